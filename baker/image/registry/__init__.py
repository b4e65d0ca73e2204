"""The Registry HTTP API v2 with `requests`: `client` (references, the token dance, deadlines, capped
reads), `read` (an image's config without pulling, the push pre-check), `push` (blobs, mounts,
manifests).  Never imports docker."""
