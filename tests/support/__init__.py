"""What the tests share, in one place: the fake `Provider` and the other seams (`fakes`), the fixture
plugins (`fixtures_emulator`: the emulator and real SDK clients; `fixtures_docker`: a real engine and
base images), the token-auth registry stand-in (`registry`), OCI bases pushed to a registry
(`oci_bases`), the worlds the fleet and resolver tests stand in (`fleet_world`, `resolve_world`), and the
one `write_manifest` (`manifests`)."""
