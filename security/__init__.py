"""Security building blocks that import no app: field encryption at rest (`fieldcrypt`),
the URL rules every write path shares (`validators`), and response headers (`headers`).

Below every app in the import graph (tests/test_import_graph.py), like `csvexport`, so the
relay's sheets, the provisions and the directory can all use them.
"""
