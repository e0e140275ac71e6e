"""Encrypt an import file for Renshi: the sender's side, with Tink only.

Usage: python encrypt_example.py KEY_FILE IN OUT

KEY_FILE is the import key file downloaded from Renshi (shown once when the key is
created). It holds one Tink streaming AEAD key (AES256_GCM_HKDF_1MB) and the associated
data to use. Needs ``pip install tink``; nothing of Renshi.
"""

from __future__ import annotations

import json
import sys

import tink
from tink import secret_key_access, streaming_aead

streaming_aead.register()


def main(key_file: str, source_path: str, output_path: str) -> None:
    with open(key_file, encoding="utf-8") as file:
        bundle = json.load(file)
    if bundle.get("format") != "renshi-import-keyset/v1":
        raise SystemExit(f"{key_file}: not a Renshi import key file")
    handle = tink.json_proto_keyset_format.parse(
        json.dumps(bundle["keyset"]), secret_key_access.TOKEN
    )
    associated_data = bundle["associatedData"].encode()
    primitive = handle.primitive(streaming_aead.StreamingAead)
    # Closing the encrypting stream writes the last segment (and closes ``output``).
    with (
        open(source_path, "rb") as source,
        open(output_path, "wb") as output,
        primitive.new_encrypting_stream(output, associated_data) as encrypting,
    ):
        while chunk := source.read(1024 * 1024):  # 1 MiB at a time: constant memory
            encrypting.write(chunk)
    print(f"encrypted {source_path} to {output_path} for {bundle['tenantSlug']}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
