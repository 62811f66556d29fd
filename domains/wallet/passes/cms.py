"""Verification of a detached CMS (PKCS#7) SignedData, as used for `.pkpass` signatures.

`cryptography` can *create* PKCS#7 signatures but (as of 50.x) has no API to verify them, so
this module reads the few DER structures it needs (RFC 5652) and checks them with
`cryptography` primitives. It deliberately supports only what our signer emits and what Apple
expects: one SignerInfo, issuerAndSerialNumber signer ids, signed attributes with a
messageDigest, DER (definite-length) encoding, RSA PKCS#1 v1.5 or ECDSA signatures.

Rules enforced by `verify_detached`:
- the content is a SignedData with *no* embedded content (detached: the signed bytes are
  manifest.json, which travels next to the signature in the zip);
- the messageDigest attribute equals the digest of the given content;
- the signature over the DER-encoded signed attributes verifies with the signer certificate;
- the signer certificate chains, through certificates carried in the SignedData (the WWDR
  intermediate), to the trusted root, and every certificate is valid at `at`.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7


class CmsError(ValueError):
    """The signature is malformed or does not verify."""


OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_DATA = "1.2.840.113549.1.7.1"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
_DIGESTS = {
    "1.3.14.3.2.26": hashes.SHA1,
    "2.16.840.1.101.3.4.2.1": hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512,
}
# rsaEncryption, sha{1,256,384,512}WithRSAEncryption, ecdsa-with-SHA{256,384,512}
_SIGNATURE_ALGORITHMS = {
    "1.2.840.113549.1.1.1", "1.2.840.113549.1.1.5", "1.2.840.113549.1.1.11",
    "1.2.840.113549.1.1.12", "1.2.840.113549.1.1.13",
    "1.2.840.10045.4.3.2", "1.2.840.10045.4.3.3", "1.2.840.10045.4.3.4",
}
_MAX_CHAIN = 5


@dataclass(frozen=True)
class _Tlv:
    tag: int
    content: bytes
    raw: bytes  # the whole element, tag and length included


def _read(data: bytes, pos: int = 0) -> tuple[_Tlv, int]:
    """Read one DER element at `pos`; return it and the position after it."""
    try:
        tag = data[pos]
        if tag & 0x1F == 0x1F:
            raise CmsError("high-tag-number form is not used by CMS signatures")
        length = data[pos + 1]
        head = 2
        if length == 0x80:
            raise CmsError("indefinite length is not DER")
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[pos + 2 : pos + 2 + count], "big")
            head += count
    except IndexError as exc:
        raise CmsError("truncated DER") from exc
    end = pos + head + length
    if end > len(data):
        raise CmsError("truncated DER")
    return _Tlv(tag, data[pos + head : end], data[pos:end]), end


def _children(tlv: _Tlv) -> list[_Tlv]:
    items, pos = [], 0
    while pos < len(tlv.content):
        item, pos = _read(tlv.content, pos)
        items.append(item)
    return items


def _oid(tlv: _Tlv) -> str:
    if tlv.tag != 0x06 or not tlv.content:
        raise CmsError("expected an OBJECT IDENTIFIER")
    first, arcs, value = tlv.content[0], [], 0
    arcs.extend(divmod(first, 40) if first < 80 else (2, first - 80))
    for byte in tlv.content[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(str(a) for a in arcs)


@dataclass(frozen=True)
class SignerInfo:
    issuer_der: bytes
    serial_number: int
    digest_oid: str
    signed_attrs_der: bytes  # re-tagged as SET OF, which is what is actually signed
    message_digest: bytes
    signing_time: dt.datetime | None
    signature: bytes


def _parse_time(tlv: _Tlv) -> dt.datetime:
    text = tlv.content.decode("ascii")
    fmt = "%y%m%d%H%M%SZ" if tlv.tag == 0x17 else "%Y%m%d%H%M%SZ"
    return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)


def parse_signer_info(der: bytes) -> SignerInfo:
    """Extract the single SignerInfo of a detached SignedData; CmsError if malformed."""
    try:
        return _parse_signer_info(der)
    except CmsError:
        raise
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        # Whatever garbage arrives, callers get one error type, never a stray IndexError.
        raise CmsError(f"malformed signature: {exc}") from exc


def _algorithm(tlv: _Tlv) -> str:
    """OID of an AlgorithmIdentifier whose parameters are absent or NULL (all we accept)."""
    parts = _children(tlv)
    if tlv.tag != 0x30 or not 1 <= len(parts) <= 2 or (
            len(parts) == 2 and parts[1].raw != b"\x05\x00"):
        raise CmsError("unexpected algorithm parameters")
    return _oid(parts[0])


def _integer(tlv: _Tlv) -> int:
    if tlv.tag != 0x02:
        raise CmsError("expected an INTEGER")
    return int.from_bytes(tlv.content, "big", signed=True)


def _parse_signer_info(der: bytes) -> SignerInfo:
    # Fields below are checked even where they are not covered by the signature (versions,
    # algorithm lists, content type): a verifier that ignores them would accept altered bytes.
    content_info, end = _read(der)
    if end != len(der) or content_info.tag != 0x30:
        raise CmsError("not a DER ContentInfo")
    ci = _children(content_info)
    if len(ci) != 2 or _oid(ci[0]) != OID_SIGNED_DATA or ci[1].tag != 0xA0:
        raise CmsError("not a PKCS#7 SignedData")
    signed_data = _read(ci[1].content)[0]
    sd = _children(signed_data)
    if _integer(sd[0]) != 1:
        raise CmsError("unsupported SignedData version")
    digest_set = {_algorithm(a) for a in _children(sd[1])}
    encap = _children(sd[2])
    if _oid(encap[0]) != OID_DATA:
        raise CmsError("signed content type is not data")
    if len(encap) > 1:
        raise CmsError("signature embeds its content; a detached signature is required")
    signer_infos = _children(sd[-1])
    if sd[-1].tag != 0x31 or len(signer_infos) != 1:
        raise CmsError("expected exactly one SignerInfo")
    si = _children(signer_infos[0])
    if _integer(si[0]) != 1 or si[1].tag != 0x30:
        raise CmsError("signer must be identified by issuer and serial number (version 1)")
    issuer, serial = _children(si[1])
    digest_oid = _algorithm(si[2])
    if digest_oid not in digest_set:
        raise CmsError("signer digest algorithm is not listed in digestAlgorithms")
    attrs = si[3]
    if attrs.tag != 0xA0:
        raise CmsError("signed attributes are missing")
    values: dict[str, _Tlv] = {}
    for attr in _children(attrs):
        attr_type, attr_values = _children(attr)
        values[_oid(attr_type)] = _children(attr_values)[0]
    if OID_MESSAGE_DIGEST not in values:
        raise CmsError("messageDigest attribute is missing")
    if OID_CONTENT_TYPE not in values or _oid(values[OID_CONTENT_TYPE]) != OID_DATA:
        raise CmsError("contentType attribute is missing or not data")
    if _algorithm(si[4]) not in _SIGNATURE_ALGORITHMS:
        raise CmsError("unsupported signature algorithm")
    signature = si[5]
    if signature.tag != 0x04:
        raise CmsError("signature value is not an OCTET STRING")
    signing_time = values.get(OID_SIGNING_TIME)
    return SignerInfo(
        issuer_der=issuer.raw,
        serial_number=_integer(serial),
        digest_oid=digest_oid,
        # RFC 5652 5.4: the signature covers the attributes encoded as SET OF (tag 0x31),
        # not the [0] IMPLICIT tag they carry inside SignerInfo.
        signed_attrs_der=b"\x31" + attrs.raw[1:],
        message_digest=values[OID_MESSAGE_DIGEST].content,
        signing_time=_parse_time(signing_time) if signing_time else None,
        signature=signature.content,
    )


def _issuer_der(cert: x509.Certificate) -> bytes:
    # TBSCertificate: [0] version, serialNumber, signature, issuer, ... ; compare raw bytes
    # rather than re-encoding the Name, which could differ in string types.
    fields = _children(_read(cert.tbs_certificate_bytes)[0])
    return fields[3].raw if fields[0].tag == 0xA0 else fields[2].raw


def _check_validity(cert: x509.Certificate, at: dt.datetime) -> None:
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise CmsError(f"certificate {cert.subject.rfc4514_string()} is not valid at {at}")


def _verify_chain(signer: x509.Certificate, bag: list[x509.Certificate],
                  root: x509.Certificate, at: dt.datetime) -> None:
    current = signer
    for _ in range(_MAX_CHAIN):
        _check_validity(current, at)
        if current.issuer == root.subject:
            try:
                current.verify_directly_issued_by(root)
            except (ValueError, TypeError, InvalidSignature) as exc:
                raise CmsError("certificate chain does not verify against the root") from exc
            _check_validity(root, at)
            return
        issuers = [c for c in bag if c.subject == current.issuer and c != current]
        for issuer in issuers:
            try:
                current.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature):
                continue
            constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints)
            if not constraints.value.ca:
                raise CmsError("an intermediate certificate is not a CA")
            current = issuer
            break
        else:
            raise CmsError("signer certificate does not chain to the trusted root")
    raise CmsError("certificate chain is too long")


# What cryptography may raise while reading hostile certificates; all mean "does not verify".
_CERT_ERRORS = (ValueError, TypeError, UserWarning, x509.InvalidVersion,
                x509.ExtensionNotFound, x509.DuplicateExtension, UnsupportedAlgorithm)


def verify_detached(signature_der: bytes, content: bytes, trusted_root: x509.Certificate,
                    *, at: dt.datetime | None = None) -> tuple[x509.Certificate, SignerInfo]:
    """Verify a detached SignedData over `content`; return the signer certificate and info.

    Raises CmsError, and only CmsError, for anything that does not verify.
    """
    try:
        return _verify_detached(signature_der, content, trusted_root, at)
    except CmsError:
        raise
    except _CERT_ERRORS as exc:
        raise CmsError(f"unreadable certificate or signature: {exc}") from exc


def _verify_detached(signature_der: bytes, content: bytes, trusted_root: x509.Certificate,
                     at: dt.datetime | None) -> tuple[x509.Certificate, SignerInfo]:
    info = parse_signer_info(signature_der)
    with warnings.catch_warnings():
        # cryptography falls back to lenient BER parsing with a warning; we want DER only.
        warnings.simplefilter("error")
        bag = pkcs7.load_der_pkcs7_certificates(signature_der)
    signers = [c for c in bag if c.serial_number == info.serial_number
               and _issuer_der(c) == info.issuer_der]
    if len(signers) != 1:
        raise CmsError("signer certificate is not included in the signature")
    signer = signers[0]
    algorithm = _DIGESTS.get(info.digest_oid)
    if algorithm is None:
        raise CmsError(f"unsupported digest algorithm {info.digest_oid}")
    digest = hashes.Hash(algorithm())
    digest.update(content)
    if digest.finalize() != info.message_digest:
        raise CmsError("content does not match the signed message digest")
    key = signer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(info.signature, info.signed_attrs_der, padding.PKCS1v15(), algorithm())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(info.signature, info.signed_attrs_der, ec.ECDSA(algorithm()))
        else:
            raise CmsError("unsupported signer key type")
    except InvalidSignature as exc:
        raise CmsError("signature does not verify with the signer certificate") from exc
    # Check validity at signing time when it is signed (what the signature vouches for),
    # otherwise now.
    when = at or info.signing_time or dt.datetime.now(dt.UTC)
    _verify_chain(signer, bag, trusted_root, when)
    return signer, info
