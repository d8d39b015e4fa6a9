"""The wheel factory (see ci/__main__.py and ./ci/factory --help)."""
