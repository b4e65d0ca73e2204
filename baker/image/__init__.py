"""Images: the two bake backends and what they share.

- `bake`: the engine bake (`build`), one pipeline the CLI and the Python API call;
- `inregistry`: the in-registry bake (`build --in-registry`) over `oci` and `registry/`;
- `engine/`: the Docker engine, the only docker importer (with `dockerconfig`);
- `registry/`: the Registry HTTP API v2 client (reads, push pre-check, writes);
- `dockerconfig`: registry credentials as Docker reads them."""
