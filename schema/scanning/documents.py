"""The documents the scanner app sends, word for word. They are known persisted queries (the
app may send only their sha256, schema/persisted.py) and pre-validated operations (executed
without the per-request extension set-up, schema/prevalidated.py): a scan is the hottest
request we serve. Changing one of these texts changes its hash: ship it with the app."""

from __future__ import annotations

_RESULT = (
    "result { verdict message scanId ticketId holderName ticketTypeName firstUsedAt firstUsedGate gate "
    "replayed offline conflict vendor { vendorName boothCode zone crewEntries crewLimit } } "
    "errors { code message field retryAfter }"
)

SCAN_COMMIT = (
    "mutation ScanCommit($code: String!, $deviceId: ID!, $nonce: String, $direction: ScanDirection! = ENTRY) "
    "{ scanCommit(code: $code, deviceId: $deviceId, nonce: $nonce, direction: $direction) { " + _RESULT + " } }"
)

SCAN_VALIDATE = (
    "mutation ScanValidate($code: String!, $gate: ID!, $direction: ScanDirection! = ENTRY) "
    "{ scanValidate(code: $code, gate: $gate, direction: $direction) { " + _RESULT + " } }"
)

SCANNER_DOCUMENTS = (SCAN_COMMIT, SCAN_VALIDATE)
