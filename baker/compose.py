"""A value source + the secrets fetched for it -> the value.  The one place each shape's value is
made, for env entries and (later) file entries alike; imports no SDK.

- a secret: its value, or one JSON field (`refs.extract_json_key`);
- a certificate: the secret converted by `baker.certificates` by its content type;
- a template: the text split at load (`TemplateValue.segments`) joined with each part's value,
  inserted verbatim: a value is never scanned again, so a part holding `{{ x }}` stays as it is.

Failures are `ProviderError`s naming the secret (and the template's part), never a value.
"""

from __future__ import annotations

from collections.abc import Mapping

from baker.diagnose import Diagnosis
from baker.errors import ProviderError
from baker.manifest.refs import extract_json_key
from baker.model import CertificateRef, FetchKey, LiteralValue, SecretRef, Source, TemplateValue
from baker.providers.base import FetchedSecret, SecretProperties
from baker.record import Record
from baker.secret import REDACTOR, Secret

Fetched = Mapping[FetchKey, "FetchedSecret | ProviderError"]


class Composed(Record):
    value: Secret
    properties: SecretProperties | None  # the secret read (a secret or certificate; None otherwise)
    parts: tuple[tuple[str, SecretProperties | None], ...] = ()  # a template's, in `from:` order


def compose(source: Source, fetched: Fetched) -> Composed:
    """The value of `source`; raises the `ProviderError` of the first part that failed."""
    if isinstance(source, LiteralValue):
        return Composed(Secret(source.value), None)
    if isinstance(source, TemplateValue):
        return _template(source, fetched)
    ref = source.ref if isinstance(source, CertificateRef) else source
    outcome = fetched[ref.fetch_key]
    if isinstance(outcome, ProviderError):
        raise outcome
    if isinstance(source, CertificateRef):
        return Composed(_certificate(outcome, source), outcome.properties)
    return Composed(_pick(outcome, source), outcome.properties)


def _template(source: TemplateValue, fetched: Fetched) -> Composed:
    values: dict[str, Secret] = {}
    parts: list[tuple[str, SecretProperties | None]] = []
    for name, part in source.parts:
        try:
            got = compose(part, fetched)
        except ProviderError as exc:
            raise ProviderError(
                f"template part {name!r}: {exc.message}",
                diagnosis=exc.diagnosis or Diagnosis.AZURE_ERROR,
                evidence=exc.evidence,
                credential=exc.credential,
                secret=exc.secret,
                hint=exc.hint,
            ) from None
        values[name] = got.value
        parts.append((name, got.properties))
    text = "".join(seg if isinstance(seg, str) else values[seg.name].reveal() for seg in source.segments)
    return Composed(Secret(text), None, tuple(parts))


def _certificate(fetched: FetchedSecret, source: CertificateRef) -> Secret:
    # Guard: `cryptography` loads only when a certificate is read (validate and plan never do).
    from baker import certificates

    try:
        value = certificates.convert(fetched.value, fetched.properties.content_type, source.format)
    except certificates.NotACertificate as exc:
        version = f" (version {fetched.properties.version})" if fetched.properties.version else ""
        raise ProviderError(
            f"secret {source.ref.name!r}{version} {exc}",
            diagnosis=Diagnosis.NOT_A_CERTIFICATE,
            evidence=f"contentType {fetched.properties.content_type!r}",
            credential=source.ref.credential,
            secret=source.ref.name,
        ) from None
    REDACTOR.register(value, label=f"certificate {source.ref.name} ({source.format})")
    return value


def _pick(fetched: FetchedSecret, ref: SecretRef) -> Secret:
    if ref.key is None:
        return fetched.value
    try:
        return extract_json_key(fetched.value, ref.key)
    except ValueError as exc:  # errors.JsonKeyError: its message never holds the value
        version = f" (version {fetched.properties.version})" if fetched.properties.version else ""
        raise ProviderError(
            f"secret {ref.name!r}{version}: {REDACTOR.redact(str(exc))}",
            diagnosis=Diagnosis.JSON_KEY_NOT_FOUND,
            evidence=f"#{ref.key}",
            credential=ref.credential,
            secret=ref.name,
        ) from None
