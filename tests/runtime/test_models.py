"""Model adapters: a scikit-learn classifier and an OpenAI-compatible endpoint on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel, Field
from sklearn.linear_model import LogisticRegression

from paceline.errors import UsageError
from paceline.runtime.models import ChatCompletionsModel, Prices, SklearnModel


class Routing(BaseModel):
    queue: str
    confidence: float = Field(ge=0, le=1)


class Endpoint:
    """A chat-completions server answering with a fixed message content; records the requests."""

    def __init__(self) -> None:
        self.content = json.dumps({"queue": "fast-track", "confidence": 0.87})
        self.requests: list[dict[str, Any]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                doc = {
                    "id": "chatcmpl-1",
                    "model": "router-llm-2026-01",
                    "choices": [
                        {
                            "message": {"role": "assistant", "content": endpoint.content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1200, "completion_tokens": 30},
                }
                data = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    e = Endpoint()
    yield e
    e.server.shutdown()
    e.server.server_close()


def test_chat_completions_structured_output_is_revalidated_and_costed(endpoint: Endpoint) -> None:
    model = ChatCompletionsModel(
        "router-llm",
        endpoint.url,
        Routing,
        lambda f: f"Route claim {f['id']}",
        api_key="k",
        prices=Prices(2.5, 10.0, "2026-11"),
    )
    call = model.predict({"id": "c-1"}, "case-1")
    assert call.prediction == {"queue": "fast-track"} and call.confidence == 0.87
    sent = endpoint.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer k"
    assert sent["body"]["response_format"]["type"] == "json_schema"
    assert sent["body"]["response_format"]["json_schema"]["strict"] is True
    attrs = call.attributes
    assert attrs["gen_ai.usage.input_tokens"] == 1200 and attrs["gen_ai.usage.output_tokens"] == 30
    assert (
        attrs["gen_ai.conversation.id"] == "case-1" and attrs["gen_ai.response.model"] == "router-llm-2026-01"
    )
    assert attrs["paceline.cost"] == pytest.approx((1200 * 2.5 + 30 * 10.0) / 1e6)
    endpoint.content = json.dumps({"queue": "fast-track", "confidence": 7})  # out of range: refused
    with pytest.raises(UsageError, match="does not match its schema"):
        model.predict({"id": "c-2"}, "case-2")
    endpoint.content = "not json"
    with pytest.raises(UsageError):
        model.predict({"id": "c-3"}, "case-3")


def test_a_scikit_learn_classifier_gives_its_most_probable_class() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    y = np.where(x[:, 0] + x[:, 1] > 0, "high", "low")
    model = SklearnModel("risk", "1", LogisticRegression().fit(x, y), ["a", "b"], label="risk")
    call = model.predict({"a": 2.0, "b": 2.0}, "case-9")
    assert call.prediction == {"risk": "high"} and call.confidence > 0.9
    assert call.attributes["gen_ai.provider.name"] == "scikit-learn"
    with pytest.raises(UsageError, match="needs features"):
        model.predict({"a": 1.0}, "case-10")
