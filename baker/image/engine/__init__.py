"""The Docker engine: build, tag, push, inspect, clean up.  Only this package (and
`baker.image.dockerconfig`) imports `docker`."""
