#!/usr/bin/python3
"""Writes Claim 169 ID-card fixtures with an encoder independent of ours.

Lastmile reads MOSIP Claim 169 QR codes with `claim169-core` (Rust). The
PyPI package `claim169` is bindings of that same crate, so cards it makes
prove nothing about interoperability. This script builds the QR text from
the specification alone, with Debian's python3-cbor2 and
python3-cryptography and the standard library:

    QR text = base45( zlib( COSE_Sign1( CWT claims with claim 169 ) ) )

- the CWT claims (RFC 8392) are a CBOR map: 1 iss, 4 exp, 6 iat, and 169,
  the identity: a map with integer keys (1 id, 4 full name, 8 date of birth
  as YYYYMMDD, 9 gender, 13 nationality);
- COSE_Sign1 (RFC 9052) is tag 18 over [protected, unprotected, payload,
  signature]; the protected header is {1: alg, 4: kid}, and the signature is
  over Sig_structure ["Signature1", protected, h'', payload]: EdDSA (-8)
  with Ed25519, or ES256 (-7) with P-256 (r || s, 32 bytes each);
- zlib (RFC 1950) compression, then base45 (RFC 9285).

Keys are derived from fixed seeds, so Ed25519 fixtures come out the same on
every run (ES256 signatures are randomised: that card changes, and still
verifies). Run it from the repository root after changing it:

    /usr/bin/python3 scripts/claim169-fixtures.py

It writes shared/tests/fixtures/claim169/: `authorities.json` (the keys HQ
registers, as `lastmile-server id-authorities add` takes them) and one
`<name>.txt` per card. Tests read these files; nothing runs Python then.
"""
import hashlib
import json
import pathlib
import zlib

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

OUT = pathlib.Path(__file__).resolve().parent.parent / "shared/tests/fixtures/claim169"

ALG_EDDSA = -8
ALG_ES256 = -7
BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

# 2026-01-01 and 2040-01-01, Unix seconds.
ISSUED_AT = 1_767_225_600
EXPIRES_AT = 2_208_988_800


def base45(data: bytes) -> str:
    """RFC 9285: two bytes make three characters, a last odd byte two."""
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        c, n = n % 45, n // 45
        d, e = n % 45, n // 45
        out += [BASE45[c], BASE45[d], BASE45[e]]
    if len(data) % 2:
        n = data[-1]
        out += [BASE45[n % 45], BASE45[n // 45]]
    return "".join(out)


def seed(label: str) -> bytes:
    return hashlib.sha256(f"lastmile claim169 fixture: {label}".encode()).digest()


def ed25519_key(label: str):
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed(label))


def p256_key(label: str):
    scalar = int.from_bytes(seed(label), "big") % (2**256 - 2**224 - 1) or 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def public_hex(key) -> str:
    public = key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        raw = public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    return raw.hex()


def sign(key, data: bytes) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def card(key, alg: int, kid: str, identity: dict) -> str:
    claims = {
        1: "https://registry.example.ke",
        4: EXPIRES_AT,
        6: ISSUED_AT,
        169: identity,
    }
    payload = cbor2.dumps(claims)
    protected = cbor2.dumps({1: alg, 4: kid.encode()})
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    sign1 = cbor2.CBORTag(18, [protected, {}, payload, sign(key, to_sign)])
    return base45(zlib.compress(cbor2.dumps(sign1), 9))


def person(id_number: str, name: str) -> dict:
    return {1: id_number, 4: name, 8: "19900101", 9: 1, 13: "KEN"}


def main():
    registry = ed25519_key("Kenya National Registration Bureau")
    rogue = ed25519_key("nobody HQ registered")
    p256 = p256_key("an ES256 registry")
    authorities = [
        {
            "name": "Kenya National Registration Bureau",
            "kid": "ke-nrb-2027",
            "algorithm": "Ed25519",
            "public_key": public_hex(registry),
            "valid_from": "2026-01-01",
        },
        {
            "name": "Example ES256 Registry",
            "kid": "ex-p256-1",
            "algorithm": "ES256",
            "public_key": public_hex(p256),
            "valid_from": "2026-01-01",
        },
    ]
    cards = {
        # Baraka Mwangi, by the registered Ed25519 authority.
        "registered": card(registry, ALG_EDDSA, "ke-nrb-2027", person("20000002", "Baraka Mwangi")),
        # The same person, by a key nobody registered.
        "unregistered": card(rogue, ALG_EDDSA, "xx-rogue-1", person("20000002", "Baraka Mwangi")),
        # Names the registered kid, but signed by the other key.
        "forged": card(rogue, ALG_EDDSA, "ke-nrb-2027", person("20000002", "Baraka Mwangi")),
        # By the ES256 authority.
        "es256": card(p256, ALG_ES256, "ex-p256-1", person("20000003", "Chebet Otieno")),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "authorities.json").write_text(json.dumps(authorities, indent=2) + "\n")
    for name, text in cards.items():
        (OUT / f"{name}.txt").write_text(text + "\n")
    print(f"wrote {len(cards)} cards and {len(authorities)} authorities to {OUT}")


if __name__ == "__main__":
    main()
