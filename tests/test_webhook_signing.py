"""Standard Webhooks signatures: the spec's vectors (§1.1.1) and the reference suite's cases,
checked against our signer and verifier and against the `standardwebhooks` library."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from service.webhooks import signing
from service.webhooks.sender import Outgoing, headers_for

V1_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
V1_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
V1_TIMESTAMP = 1614265330
V1_PAYLOAD = b'{"test": 2432232314}'
V1_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
V1_BAD = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="
D1_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
D1_TIMESTAMP = 1772366700
D1_BODY = (
    b'{"type":"kpi.breached","timestamp":"2026-03-01T12:05:00Z","data":{"alert_id":"alrt_01HQ",'
    b'"kpi_id":"kpi_churn","state":"firing","severity":"critical","value":2.71,"threshold":2.5,'
    b'"direction":"above"}}'
)
D1_OLD = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
D1_NEW = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"


def headers(signature: str, timestamp: int = V1_TIMESTAMP, msg_id: str = V1_ID) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_v1_reference_vector() -> None:
    assert signing.sign(V1_SECRET, V1_ID, V1_TIMESTAMP, V1_PAYLOAD) == V1_SIGNATURE


def test_v2_svix_manual_example_with_a_short_legacy_key() -> None:
    signature = signing.sign(
        "whsec_plJ3nmyCDGBKInavdOK15jsl",
        "msg_loFOjxBNrRLzqYUf",
        1731705121,
        b'{"event_type":"ping","data":{"success":true}}',
    )
    assert signature == "v1,rAvfW3dJ/X/qxhsaXPOyyCGmRKsaKWcsNccKXlIktD0="


def test_d1_d2_rotation_header_signs_with_both_keys_newest_first() -> None:
    header = signing.signature_header([D1_NEW, D1_OLD], D1_ID, D1_TIMESTAMP, D1_BODY)
    assert header == (
        "v1,bDJFlEUbuMSuYi7ohofoyUD83+E/7XVmJ7aLBnnkmXw= "
        "v1,hzBnQdMPH/hGvbqYsxhp7fO7dYwUaE3BjSIDg2/vRb4="
    )
    for secret in (D1_OLD, D1_NEW):
        signing.verify(secret, headers(header, D1_TIMESTAMP, D1_ID), D1_BODY, now=D1_TIMESTAMP)


@pytest.mark.parametrize(
    "secret",
    [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ],
)
def test_the_prefix_is_optional(secret: str) -> None:
    signing.verify(secret, headers(V1_SIGNATURE), V1_PAYLOAD, now=V1_TIMESTAMP)


@pytest.mark.parametrize(
    "secret",
    [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr",
    ],
)
def test_unpadded_secrets_verify(secret: str) -> None:
    signature = signing.sign(secret, V1_ID, V1_TIMESTAMP, V1_PAYLOAD)
    signing.verify(secret, headers(signature), V1_PAYLOAD, now=V1_TIMESTAMP)
    now = int(time.time())  # the reference library checks against the real clock
    current = signing.sign(secret, V1_ID, now, V1_PAYLOAD)
    Webhook(secret).verify(V1_PAYLOAD, headers(current, now))


def test_multi_signature_header_with_an_unknown_version() -> None:
    noise = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    header = f"{noise} v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {V1_SIGNATURE} {noise}"
    signing.verify(V1_SECRET, headers(header), V1_PAYLOAD, now=V1_TIMESTAMP)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda h: h.pop("webhook-id"), "Missing"),
        (lambda h: h.pop("webhook-timestamp"), "Missing"),
        (lambda h: h.pop("webhook-signature"), "Missing"),
        (lambda h: h.update({"webhook-timestamp": "hello"}), "integer"),
        (lambda h: h.update({"webhook-signature": V1_BAD}), "No matching"),
        (lambda h: h.update({"webhook-signature": "v1,"}), "No matching"),
        (lambda h: h.update({"webhook-signature": "v1"}), "No matching"),
        (lambda h: h.update({"webhook-signature": V1_SIGNATURE[:-5]}), "No matching"),
    ],
)
def test_bad_headers_fail_verification_cleanly(mangle: object, message: str) -> None:
    sent = headers(V1_SIGNATURE)
    mangle(sent)  # type: ignore[operator]
    with pytest.raises(signing.VerificationFailed, match=message):
        signing.verify(V1_SECRET, sent, V1_PAYLOAD, now=V1_TIMESTAMP)


@pytest.mark.parametrize(("skew", "message"), [(-301, "too old"), (301, "too new")])
def test_timestamps_outside_five_minutes_are_refused(skew: int, message: str) -> None:
    timestamp = V1_TIMESTAMP + skew
    signature = signing.sign(V1_SECRET, V1_ID, timestamp, V1_PAYLOAD)
    with pytest.raises(signing.VerificationFailed, match=message):
        signing.verify(V1_SECRET, headers(signature, timestamp), V1_PAYLOAD, now=V1_TIMESTAMP)
    signing.verify(
        V1_SECRET, headers(signature, timestamp), V1_PAYLOAD, now=V1_TIMESTAMP + skew // 2
    )


def test_an_empty_payload_signs_and_verifies() -> None:
    signature = signing.sign(V1_SECRET, V1_ID, V1_TIMESTAMP, b"")
    signing.verify(V1_SECRET, headers(signature), b"", now=V1_TIMESTAMP)


def test_what_we_send_verifies_with_the_reference_library() -> None:
    secret = signing.generate_secret()
    outgoing = Outgoing(
        "msg_x", "kpi.breached", b'{"type":"kpi.breached"}', "https://x", [secret], 1
    )
    sent = headers_for(outgoing, int(time.time()))
    assert Webhook(secret).verify(outgoing.body, sent) == {"type": "kpi.breached"}
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.generate_secret()).verify(outgoing.body, sent)


def test_generated_secrets_are_24_random_bytes() -> None:
    secrets = {signing.generate_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "whsec_",
        "whsec_!!!",
        "nopefix" + "A" * 32,
        "whsec_" + base64.b64encode(b"x" * 8).decode(),
    ],
)
def test_caller_secrets_must_be_whsec_and_24_to_64_bytes(secret: str) -> None:
    with pytest.raises(signing.InvalidSecret):
        signing.check_caller_secret(secret)
