"""Model adapters: a Python callable, a scikit-learn/joblib model, an OpenAI-compatible endpoint.

Each call returns a :class:`ModelCall` with the prediction, a confidence, and what was
spent (latency, tokens, cost), recorded with the OpenTelemetry GenAI attribute names
(``gen_ai.*``) so the record reads the same in any tracing backend. Cost is computed here
from a price per million tokens, because the conventions carry tokens, not money.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from paceline.errors import UsageError


@dataclass(frozen=True)
class ModelCall:
    prediction: dict[str, Any]
    confidence: float
    model: str
    version: str
    latency_ms: float
    attributes: dict[str, Any] = field(default_factory=dict)  # gen_ai.* and paceline.* names

    def to_dict(self) -> dict[str, Any]:
        return {
            "prediction": self.prediction,
            "confidence": self.confidence,
            "model": self.model,
            "version": self.version,
            "latency_ms": self.latency_ms,
            "attributes": self.attributes,
        }


class ModelAdapter:
    name: str = "model"
    version: str = "1"

    def predict(self, features: Mapping[str, Any], conversation_id: str) -> ModelCall:
        raise NotImplementedError


class CallableModel(ModelAdapter):
    """Any function from features to ``(prediction dict, confidence)``."""

    def __init__(
        self, name: str, version: str, fn: Callable[[Mapping[str, Any]], tuple[dict[str, Any], float]]
    ) -> None:
        self.name, self.version, self.fn = name, version, fn

    def predict(self, features: Mapping[str, Any], conversation_id: str) -> ModelCall:
        start = time.perf_counter()
        prediction, confidence = self.fn(features)
        ms = (time.perf_counter() - start) * 1000
        attrs = {
            "gen_ai.operation.name": "predict",
            "gen_ai.provider.name": "paceline.callable",
            "gen_ai.request.model": self.name,
            "gen_ai.conversation.id": conversation_id,
        }
        return ModelCall(prediction, float(confidence), self.name, self.version, ms, attrs)


class SklearnModel(ModelAdapter):
    """A fitted scikit-learn classifier (or a joblib file of one) over named features.

    The prediction is the most probable class; the confidence its probability.
    """

    def __init__(
        self, name: str, version: str, estimator: Any, features: Sequence[str], label: str = "label"
    ) -> None:
        self.name, self.version, self.features, self.label = name, version, list(features), label
        self.estimator = estimator

    @classmethod
    def load(
        cls, name: str, version: str, path: str | Path, features: Sequence[str], label: str = "label"
    ) -> SklearnModel:
        import joblib

        return cls(name, version, joblib.load(path), features, label)

    def predict(self, features: Mapping[str, Any], conversation_id: str) -> ModelCall:
        missing = [f for f in self.features if f not in features]
        if missing:
            raise UsageError(
                f"model {self.name} needs features {missing}", fix="extract them in the workflow"
            )
        row = [[float(features[f]) for f in self.features]]
        start = time.perf_counter()
        proba = self.estimator.predict_proba(row)[0]
        ms = (time.perf_counter() - start) * 1000
        best = int(proba.argmax())
        attrs = {
            "gen_ai.operation.name": "predict",
            "gen_ai.provider.name": "scikit-learn",
            "gen_ai.request.model": self.name,
            "gen_ai.response.model": f"{self.name}@{self.version}",
            "gen_ai.conversation.id": conversation_id,
        }
        label = self.estimator.classes_[best]
        prediction = {self.label: label.item() if hasattr(label, "item") else label}
        return ModelCall(prediction, float(proba[best]), self.name, self.version, ms, attrs)


@dataclass(frozen=True)
class Prices:
    """Prices per million tokens, versioned so a cost can be reproduced."""

    input_per_million: float = 0.0
    output_per_million: float = 0.0
    table_version: str = "1"


class ChatCompletionsModel(ModelAdapter):
    """An OpenAI-compatible ``/v1/chat/completions`` endpoint with structured output.

    The response is requested as JSON matching *schema* (``response_format`` json_schema,
    strict) and validated again with pydantic, since not every server enforces it. The
    output model must carry a ``confidence`` field between 0 and 1.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        output: type[BaseModel],
        prompt: Callable[[Mapping[str, Any]], str],
        *,
        api_key: str | None = None,
        prices: Prices | None = None,
        timeout: float = 30.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.name, self.version, self.base_url = name, "1", base_url.rstrip("/")
        self.output, self.prompt, self.prices = output, prompt, prices or Prices()
        self.client = client or httpx.Client(timeout=timeout)
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def _body(self, features: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "model": self.name,
            "messages": [{"role": "user", "content": self.prompt(features)}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": self.output.__name__,
                    "schema": self.output.model_json_schema(),
                    "strict": True,
                },
            },
        }

    def predict(self, features: Mapping[str, Any], conversation_id: str) -> ModelCall:
        start = time.perf_counter()
        response = self.client.post(
            f"{self.base_url}/v1/chat/completions", json=self._body(features), headers=self.headers
        )
        ms = (time.perf_counter() - start) * 1000
        response.raise_for_status()
        doc = response.json()
        choice = doc["choices"][0]
        try:
            parsed = self.output.model_validate(json.loads(choice["message"]["content"]))
        except (ValidationError, json.JSONDecodeError, TypeError) as exc:
            raise UsageError(
                f"model {self.name} returned output that does not match its schema: {exc}"
            ) from None
        usage = doc.get("usage") or {}
        tokens_in, tokens_out = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        cost = (tokens_in * self.prices.input_per_million + tokens_out * self.prices.output_per_million) / 1e6
        prediction = parsed.model_dump()
        confidence = float(prediction.pop("confidence", 0.0))
        attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": self.name,
            "gen_ai.response.model": doc.get("model", self.name),
            "gen_ai.response.id": doc.get("id"),
            "gen_ai.response.finish_reasons": [choice.get("finish_reason")],
            "gen_ai.conversation.id": conversation_id,
            "gen_ai.output.type": "json",
            "gen_ai.usage.input_tokens": tokens_in,
            "gen_ai.usage.output_tokens": tokens_out,
            "paceline.cost": cost,
            "paceline.price_table_version": self.prices.table_version,
        }
        return ModelCall(prediction, confidence, self.name, str(doc.get("model", self.version)), ms, attrs)
