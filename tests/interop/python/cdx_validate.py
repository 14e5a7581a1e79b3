"""Validates CycloneDX JSON files with cyclonedx-python-lib's strict JSON-schema validator.

Usage: cdx_validate.py FILE...  Prints "FILE VALID" or "FILE INVALID <reason>" per file and
exits 1 when any file is invalid. The spec version is read from each file.
"""
import json
import sys

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

VERSIONS = {"1.5": SchemaVersion.V1_5, "1.6": SchemaVersion.V1_6}

status = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    version = VERSIONS.get(json.loads(text).get("specVersion"))
    if version is None:
        print(path, "INVALID unknown specVersion")
        status = 1
        continue
    error = JsonStrictValidator(version).validate_str(text)
    if error is None:
        print(path, "VALID")
    else:
        print(path, "INVALID", str(error)[:2000])
        status = 1
sys.exit(status)
