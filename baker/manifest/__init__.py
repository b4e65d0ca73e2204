"""The manifest, offline: the YAML tree with lines (`yamltree`), every check and `load` (`checks`),
the secret-reference grammar (`refs`) and the credentials block (`credentials`).

Never imports azure, docker, jinja2 or requests, nor `baker.image` or `baker.providers.azure`
(tests/unit/test_import_rules.py checks it): `validate` and `plan` stop here."""
