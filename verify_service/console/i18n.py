"""The console's words in Japanese and English; the language comes from a switch or Accept-Language."""

from __future__ import annotations

from flask import request

from verify_service.console.agent_texts import AGENT_TEXTS
from verify_service.console.call_texts import CALL_TEXTS
from verify_service.console.contact_texts import CONTACT_TEXTS
from verify_service.console.words import EVENT_WORDS, WORDS

LANGUAGES = ("ja", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "title": "Caller verification", "sign_in": "Sign in", "sign_out": "Sign out", "username": "Username",
        "password": "Password", "account_id": "Account number", "pin": "Support PIN (6 digits)",
        "code": "One-time code (6 digits)", "channel": "Channel", "phone": "Phone", "chat": "Chat",
        "ticket_ref": "Ticket reference", "verify": "Verify", "send_code": "Send code",
        "verified": "VERIFIED", "not_verified": "NOT VERIFIED", "locked": "LOCKED", "frozen": "FROZEN",
        "level": "Level {level}", "attempts_left": "{n} attempt(s) left before the account locks.",
        "locked_until": "Locked until {until}.", "valid_until": "Valid until {until}.",
        "say_verified": "Identity confirmed. You may continue with the caller's request.",
        "say_rejected": "Do not continue. Ask the caller to check the PIN or code and read it again.",
        "say_locked": "Do not discuss the account. The caller can unlock it by signing in to their account "
                      "page, or try again after the time above.",
        "say_frozen": "Do not continue: the account is frozen for security. Transfer the call to the "
                      "security team.",
        "code_sent": "Code sent to {destination}. It is valid until {until}.",
        "resend_in": "You can send a new code in {seconds} s.", "resend_now": "You can send a new code now.",
        "no_customer": "No customer with that account number.", "wrong_sign_in": "Wrong username or password.",
        "throttled": "Too many failed sign-ins. Try again in {seconds} s.",
        "idle": "You were signed out after a period of inactivity.", "csrf": "The form expired. Please try again.",
        "supervisor": "Supervisor", "customer": "Customer", "find": "Find", "status": "Status",
        "failed_attempts": "Failed attempts", "recent_events": "Recent events", "reason": "Reason (required)",
        "unlock": "Unlock", "freeze": "Freeze", "unfreeze": "Unfreeze", "done": "Done.",
        "active": "active", "phone_masked": "Phone", "second_factor": "Second factor", "time": "Time",
        "event": "Event", "by": "By", "forbidden": "Only supervisors can open this page.",
        "rate_limited": "Please wait {seconds} s and try again.", "error": "Something went wrong: {message}",
        "verify_page": "Verify a caller", "language": "日本語",
        "unavailable": "The service is unavailable for a moment. Please try again.",
    },
    "ja": {
        "title": "本人確認", "sign_in": "サインイン", "sign_out": "サインアウト", "username": "ユーザー名",
        "password": "パスワード", "account_id": "口座番号", "pin": "サポートPIN（6桁）",
        "code": "ワンタイムコード（6桁）", "channel": "チャネル", "phone": "電話", "chat": "チャット",
        "ticket_ref": "チケット番号", "verify": "確認する", "send_code": "コードを送信",
        "verified": "本人確認済み", "not_verified": "確認できません", "locked": "ロック中", "frozen": "凍結中",
        "level": "レベル {level}", "attempts_left": "ロックまであと {n} 回です。",
        "locked_until": "{until} までロックされています。", "valid_until": "{until} まで有効です。",
        "say_verified": "ご本人と確認できました。お客様のご依頼を進めてください。",
        "say_rejected": "手続きを進めないでください。PINまたはコードをもう一度ご確認いただくようお伝えください。",
        "say_locked": "口座の内容には触れないでください。お客様はマイページへのサインインでロックを解除できます。"
                      "または上記の時刻以降に再度お試しいただくようお伝えください。",
        "say_frozen": "手続きを進めないでください。セキュリティのため口座は凍結中です。"
                      "セキュリティ担当へ転送してください。",
        "code_sent": "{destination} にコードを送信しました。{until} まで有効です。",
        "resend_in": "{seconds} 秒後に再送できます。", "resend_now": "コードを再送できます。",
        "no_customer": "この口座番号のお客様は見つかりません。",
        "wrong_sign_in": "ユーザー名またはパスワードが違います。",
        "throttled": "サインインの失敗が多すぎます。{seconds} 秒後にお試しください。",
        "idle": "一定時間操作がなかったためサインアウトしました。",
        "csrf": "フォームの有効期限が切れました。もう一度お試しください。",
        "supervisor": "スーパーバイザー", "customer": "お客様", "find": "検索", "status": "状態",
        "failed_attempts": "失敗回数", "recent_events": "最近のイベント", "reason": "理由（必須）",
        "unlock": "ロック解除", "freeze": "凍結", "unfreeze": "凍結解除", "done": "完了しました。",
        "active": "通常", "phone_masked": "電話番号", "second_factor": "二要素", "time": "時刻",
        "event": "イベント", "by": "操作者", "forbidden": "このページはスーパーバイザーのみ利用できます。",
        "rate_limited": "{seconds} 秒待ってからお試しください。", "error": "エラーが発生しました：{message}",
        "verify_page": "本人確認", "language": "English",
        "unavailable": "サービスが一時的に利用できません。もう一度お試しください。",
    },
}

for _language in LANGUAGES:  # each feature keeps its words in its own module
    for _texts in (WORDS, CONTACT_TEXTS, AGENT_TEXTS, CALL_TEXTS):
        MESSAGES[_language].update(_texts.get(_language, {}))


def current_language() -> str:
    """The `lang` cookie if set, else the best of Accept-Language, else Japanese."""
    chosen = request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "ja"


def translate(key: str, **values: object) -> str:
    """A message in the current language."""
    text = MESSAGES[current_language()].get(key) or MESSAGES["en"].get(key, key)
    return text.format(**values) if values else text


def event_label(name: str) -> str:
    """An audit event's name in words (an event without a label reads as its name with spaces)."""
    labels = EVENT_WORDS[current_language()]
    return labels.get(name) or EVENT_WORDS["en"].get(name) or name.replace("_", " ").capitalize()
