"""The demo firm: a seeded, published-calibrated firm that ``paceline demo`` builds and loads.

* :mod:`paceline.demo.params` - every parameter, with its published source;
* :mod:`paceline.demo.firm` - the pure generator of the canonical tables;
* :mod:`paceline.demo.run` - building the demo in a workspace through ingest;
* :mod:`paceline.demo.scale` - large task-event files for benchmarks.

Nothing is imported here, so importing the pure generator never pulls in the engine.
"""
