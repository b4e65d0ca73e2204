"""The manifest, offline: the YAML tree with lines (`yamltree`), every check and `load` (`checks`),
the secret-reference grammar (`refs`), the credentials block (`credentials`), a credential's `auth:`
(`auth`) and where a workload identity's federated token will come from (`token_sources`).

Never imports azure, docker, jinja2 or requests, nor `baker.image` or `baker.providers.azure`
(tests/unit/test_import_rules.py checks it): `validate` and `plan` stop here."""
