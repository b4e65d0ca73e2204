"""Is a re-bake due?  The check of one baked image, or of many, against its manifest and Key Vault.

One direction, top to bottom (no module imports one above it; `tests/unit/test_import_rules.py`):

    gather     the current state of one manifest's image or many: `check_all` (many), `evaluate`
      │        and `rebake_due` (one: `check_all` of one), `decide_all` (build --if-stale of many)
      ├──▶ record     what a baked image says about itself: its provenance label and literal Env,
      │               from the engine or its registry (those imported only when an image is read)
      └──▶ compare    pure: the record against the manifest and Key Vault's metadata → `CheckReport`;
            │         `due_from` → `RebakeDecision` (plain text: whoever prints it escapes it)
            └──▶ lifetime   expired / expiring / not valid yet, from a version's metadata

This `__init__` imports nothing, so `baker.check.lifetime` (build and test-connection warn with it)
loads nothing else of the check.  No module here imports an SDK or `baker.commands`, and
`check.record` reaches docker and requests only when an image is read.
"""
