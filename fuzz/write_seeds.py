#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets from the repository's test fixtures.

Usage: write_seeds.py FIXTURES_DIR CORPUS_DIR

decode_entry seeds: each live RFC 6962 entry in the target's input layout (3-byte big-endian
length of leaf_input, leaf_input, extra_data), plus each fixture certificate wrapped into a
synthetic x509_entry. render_der seeds: the DER of each fixture certificate. File names are the
SHA-1 of the content, so running the script again adds no duplicates.
"""

import base64
import hashlib
import json
import pathlib
import sys


def write(directory: pathlib.Path, data: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)


def decode_entry_input(leaf: bytes, extra: bytes) -> bytes:
    return len(leaf).to_bytes(3, "big") + leaf + extra


def u24(data: bytes) -> bytes:
    return len(data).to_bytes(3, "big") + data


def certificates(path: pathlib.Path) -> list[bytes]:
    """Return the DER certificates of a PEM file, or the file itself when it is DER."""
    raw = path.read_bytes()
    if b"-----BEGIN CERTIFICATE-----" not in raw:
        return [raw]
    ders = []
    body = None
    for line in raw.decode("ascii", "replace").splitlines():
        line = line.strip()
        if line == "-----BEGIN CERTIFICATE-----":
            body = []
        elif line == "-----END CERTIFICATE-----" and body is not None:
            ders.append(base64.b64decode("".join(body)))
            body = None
        elif body is not None:
            body.append(line)
    return ders


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    fixtures = pathlib.Path(sys.argv[1])
    corpus = pathlib.Path(sys.argv[2])
    entries_dir = corpus / "decode_entry"
    der_dir = corpus / "render_der"

    live = json.loads((fixtures / "rfc6962" / "live-entries.json").read_text())
    for item in live:
        leaf = base64.b64decode(item["leaf_input"])
        extra = base64.b64decode(item["extra_data"])
        write(entries_dir, decode_entry_input(leaf, extra))

    cert_files = sorted(p for p in (fixtures / "certs").rglob("*") if p.is_file())
    for path in cert_files:
        for der in certificates(path):
            write(der_dir, der)
            leaf = b"\x00\x00" + (1_700_000_000_000).to_bytes(8, "big") + b"\x00\x00"
            leaf += u24(der) + b"\x00\x00"
            write(entries_dir, decode_entry_input(leaf, u24(b"")))

    counts = {d.name: len(list(d.iterdir())) for d in (entries_dir, der_dir)}
    print(f"seed corpus in {corpus}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
