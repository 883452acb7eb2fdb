"""What the console shows in words instead of the API's values: factor results, events, refusals."""

from __future__ import annotations

from typing import Any

from verify_service.errors import (
    Conflict,
    DependencyUnavailable,
    NotFound,
    RateLimited,
    ValidationFailed,
    VerifyError,
)

# Full-width forms (U+FF01..U+FF5E) that a Japanese IME types for ASCII, and the ideographic space.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "factor_match": "matched", "factor_mismatch": "wrong", "factor_expired": "expired",
        "factor_not_given": "not entered", "factor_not_checked": "not checked",
        "second_factor_sms": "SMS code", "second_factor_totp": "Authenticator app",
        "locked_now": "LOCKED NOW", "pin_short": "PIN", "code_short": "One-time code",
        "refuse_frozen": "The account is frozen for security: no code was sent. Transfer the call to the "
                         "security team.",
        "refuse_locked": "The account is locked after too many failed checks: no code was sent.",
        "refuse_totp": "This customer uses an authenticator app: ask the caller for the app's current code.",
        "refuse_phone_changed": "The phone number changed recently: SMS codes are paused until {until} "
                                "(SIM-swap guard). Use the PIN or the authenticator app.",
        "refuse_destination": "This customer's phone number cannot receive SMS codes. Use the PIN or the "
                              "authenticator app.",
        "refuse_resend_cooldown": "A code was sent moments ago. You can send a new one in {seconds} s.",
        "refuse_per_customer": "Too many codes were sent to this customer in the last hour. Try again in "
                               "{seconds} s.",
        "refuse_sms_cap": "SMS sending is paused because a sending limit was reached. Try again in {seconds} s.",
        "invalid_account_id": "Enter an account number: letters, digits, - and _ (up to 64).",
        "invalid_pin": "The PIN must be 6 digits.", "invalid_code": "The code must be 6 digits.",
        "invalid_ticket_ref": "The ticket reference is too long or has characters that are not allowed.",
        "invalid_channel": "Choose phone or chat.", "invalid_form": "Enter the PIN, a code, or both.",
        "invalid_reason": "Enter a reason: it must not be blank or too long.",
    },
    "ja": {
        "factor_match": "一致", "factor_mismatch": "不一致", "factor_expired": "期限切れ",
        "factor_not_given": "未入力", "factor_not_checked": "未確認",
        "second_factor_sms": "SMSコード", "second_factor_totp": "認証アプリ",
        "locked_now": "ロックされました", "pin_short": "PIN", "code_short": "ワンタイムコード",
        "refuse_frozen": "セキュリティのため口座は凍結中です。コードは送信していません。"
                         "セキュリティ担当へ転送してください。",
        "refuse_locked": "確認の失敗が多いため口座はロック中です。コードは送信していません。",
        "refuse_totp": "このお客様は認証アプリを使っています。アプリに表示されている現在のコードをお尋ねください。",
        "refuse_phone_changed": "電話番号が最近変更されたため、{until} までSMSコードは送信できません"
                                "（SIMスワップ対策）。PINまたは認証アプリをご利用ください。",
        "refuse_destination": "このお客様の電話番号はSMSコードを受け取れません。PINまたは認証アプリをご利用ください。",
        "refuse_resend_cooldown": "コードを送信したばかりです。{seconds} 秒後に再送できます。",
        "refuse_per_customer": "このお客様へのコード送信が1時間の上限に達しました。{seconds} 秒後にお試しください。",
        "refuse_sms_cap": "送信上限に達したためSMS送信を一時停止しています。{seconds} 秒後にお試しください。",
        "invalid_account_id": "口座番号を入力してください（英数字、- と _、64文字まで）。",
        "invalid_pin": "PINは6桁の数字です。", "invalid_code": "コードは6桁の数字です。",
        "invalid_ticket_ref": "チケット番号が長すぎるか、使えない文字が含まれています。",
        "invalid_channel": "電話かチャットを選んでください。",
        "invalid_form": "PINまたはコード（あるいは両方）を入力してください。",
        "invalid_reason": "理由を入力してください（空欄や長すぎる理由は使えません）。",
    },
}

EVENT_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "customer_registered": "Customer registered", "customer_updated": "Details updated",
        "pin_issued": "PIN issued", "pin_viewed": "PIN viewed by the customer", "pin_rotated": "PIN changed",
        "pins_rekeyed": "PINs re-encrypted", "verification_succeeded": "Check: verified",
        "verification_failed": "Check: not verified", "verification_blocked": "Check refused (locked or frozen)",
        "customer_locked": "Locked", "customer_unlocked": "Unlocked", "customer_frozen": "Frozen",
        "customer_unfrozen": "Unfrozen", "code_sent": "Code sent", "code_delivery_failed": "Code not delivered",
        "totp_enrolled": "Authenticator app added", "totp_removed": "Authenticator app removed",
        "console_signed_in": "Console sign-in", "console_signed_out": "Console sign-out",
        "console_sign_in_failed": "Console sign-in failed", "console_sign_in_throttled": "Console sign-in throttled",
        "contact_started": "Contact started", "contact_ended": "Contact ended",
        "contact_reported": "Customer reported a contact as not theirs", "agent_named": "Agent display name set",
        "approval_requested": "Approval requested", "approval_approved": "Customer approved a request",
        "approval_denied": "Customer denied a request", "approval_used": "Approval used in a check",
        "agent_anomaly": "Agent activity alert", "agent_anomaly_cleared": "Agent activity alert cleared",
    },
    "ja": {
        "customer_registered": "お客様登録", "customer_updated": "登録情報の変更", "pin_issued": "PIN発行",
        "pin_viewed": "お客様がPINを表示", "pin_rotated": "PIN変更", "pins_rekeyed": "PINの再暗号化",
        "verification_succeeded": "本人確認：確認済み", "verification_failed": "本人確認：確認できず",
        "verification_blocked": "本人確認を拒否（ロック中・凍結中）", "customer_locked": "ロック",
        "customer_unlocked": "ロック解除", "customer_frozen": "凍結", "customer_unfrozen": "凍結解除",
        "code_sent": "コード送信", "code_delivery_failed": "コード未達", "totp_enrolled": "認証アプリ登録",
        "totp_removed": "認証アプリ削除", "console_signed_in": "コンソールにサインイン",
        "console_signed_out": "コンソールからサインアウト", "console_sign_in_failed": "コンソールのサインイン失敗",
        "console_sign_in_throttled": "コンソールのサインインを制限",
        "contact_started": "サポートからの連絡を開始", "contact_ended": "サポートからの連絡を終了",
        "contact_reported": "お客様が連絡に心当たりなしと報告", "agent_named": "担当者の表示名を設定",
        "approval_requested": "承認依頼を送信", "approval_approved": "お客様が承認",
        "approval_denied": "お客様が拒否", "approval_used": "承認を本人確認に使用",
        "agent_anomaly": "担当者の不審な操作を検知", "agent_anomaly_cleared": "担当者の操作アラートを解除",
    },
}

_DESTINATION_REASONS = frozenset({"premium_rate", "shared_cost", "toll_free", "satellite", "fixed_line", "voip",
                                  "personal_number", "pager", "uan", "voicemail", "unknown", "country"})
_SMS_CAP_REASONS = frozenset({"per_number", "per_key", "global"})
_FIELDS = ("account_id", "pin", "code", "ticket_ref", "channel", "reason")


def half_width(value: str) -> str:
    """Full-width letters, digits and signs (as a Japanese IME types them) as ASCII; console input only."""
    return value.translate(_HALF_WIDTH).strip()


def factor_key(result: Any, given: bool) -> str:
    """The words key for one factor's result: a factor not given reads "not entered", not "not checked"."""
    value = str(result)
    if value == "not_checked" and not given:
        return "factor_not_given"
    return f"factor_{value}"


def refusal_key(error: VerifyError) -> tuple[str, dict[str, Any]]:
    """The words key and values that explain a refusal to an agent (None-safe for unknown reasons)."""
    reason = str(error.details.get("reason", "")) if error.details else ""
    if isinstance(error, NotFound):
        return "no_customer", {}
    if isinstance(error, DependencyUnavailable):
        return "unavailable", {}
    if isinstance(error, RateLimited):
        seconds = error.retry_after
        if reason in ("resend_cooldown", "per_customer"):
            return f"refuse_{reason}", {"seconds": seconds}
        return ("refuse_sms_cap" if reason in _SMS_CAP_REASONS else "rate_limited"), {"seconds": seconds}
    if isinstance(error, Conflict):
        if reason in ("frozen", "locked", "totp"):
            return f"refuse_{reason}", {}
        if reason == "phone_changed":
            return "refuse_phone_changed", {"until": error.details.get("until", "")}
        if reason in _DESTINATION_REASONS:
            return "refuse_destination", {}
    if isinstance(error, ValidationFailed):
        return _invalid_key(error), {}
    return "error", {"message": error.message}


def _invalid_key(error: ValidationFailed) -> str:
    """The first form field the validation refused, as a words key (whole-form problems last)."""
    fields = set(error.details or {})
    for field in _FIELDS:
        if field in fields:
            return f"invalid_{field}"
    return "invalid_form"
