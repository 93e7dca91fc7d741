"""The simulator's cryptography checked against references that are not ours: the AES-GCM test vector of
WeChat Pay's own Go SDK (wechatpay-apiv3/wechatpay-go, utils/aes_test.go), and openssl's RSA signature
over the signing string WeChat Pay documents (签名生成: method, path, timestamp, nonce, body, each followed
by a newline)."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest
from wechatpayv3.utils import aes_decrypt, build_authorization, load_private_key

from tests.commerce.simulators.wechat import WechatKeys, aes_encrypt, rsa_sign, rsa_verify

# wechatpay-go's vector (its key is 16 bytes; the algorithm and the layout -- base64 of ciphertext||tag, the
# nonce and associated data used as UTF-8 bytes -- are the same as with a 32-byte APIv3 key)
KEY, NONCE, AAD = "testAPIv3Key0000", "wCq51qZv4Yfg", "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8"
PLAINTEXT, CIPHERTEXT = "Hello World", "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC"


def test_resource_encryption_matches_wechat_pays_own_vector() -> None:
    assert aes_encrypt(KEY, PLAINTEXT, AAD, nonce=NONCE)["ciphertext"] == CIPHERTEXT
    assert aes_decrypt(nonce=NONCE, ciphertext=CIPHERTEXT, associated_data=AAD, apiv3_key=KEY) == PLAINTEXT
    assert aes_decrypt(nonce=NONCE, ciphertext=CIPHERTEXT, associated_data=AAD, apiv3_key="testAPIv3Key1111") is None


def test_request_signatures_match_openssl(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    keys = WechatKeys.generate()
    key_file = tmp_path / "apiclient_key.pem"
    key_file.write_text(keys.merchant_key_pem(), encoding="utf-8")
    body = '{"appid":"wxd678efh567hg6787","mchid":"1900009191","amount":{"total":100}}'
    header = build_authorization(
        "/v3/pay/transactions/native",
        "POST",
        keys.mchid,
        keys.merchant_serial,
        load_private_key(keys.merchant_key_pem()),
        data=body,
        nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",
    )
    fields = dict(part.split("=", 1) for part in header.removeprefix("WECHATPAY2-SHA256-RSA2048 ").split(","))
    stamp = fields["timestamp"].strip('"')
    message = f"POST\n/v3/pay/transactions/native\n{stamp}\n593BEC0C930BF1AFEB40B4A08C8FB242\n{body}\n"
    signed = subprocess.run(
        [openssl, "dgst", "-sha256", "-sign", str(key_file)], input=message.encode(), capture_output=True, check=True
    )
    expected = base64.b64encode(signed.stdout).decode()
    assert fields["signature"].strip('"') == expected  # the SDK signs what WeChat Pay documents
    assert rsa_sign(keys.merchant_key, message) == expected  # ... and so does the simulator
    assert rsa_verify(keys.merchant_key.public_key(), message, expected)
    assert not rsa_verify(keys.merchant_key.public_key(), message.replace("100", "1"), expected)
