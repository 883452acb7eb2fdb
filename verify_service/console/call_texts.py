"""The screen-pop page's console words (merged into console.i18n.MESSAGES; MERGER: into the gettext catalogs)."""

from __future__ import annotations

CALL_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "call_checks": "This call's checks", "call_ref": "Call", "no_call_checks": "No checks on this call yet.",
        "entry": "Entered", "entry_agent": "typed by an agent", "entry_keypad": "on the caller's keypad",
        "entry_link": "on an entry link", "rejected": "REJECTED", "checked_at": "Checked",
        "call_not_found": "That is not a call reference.", "refresh": "Refresh",
    },
    "ja": {
        "call_checks": "この通話の本人確認", "call_ref": "通話",
        "no_call_checks": "この通話の本人確認はまだありません。",
        "entry": "入力", "entry_agent": "担当者が入力", "entry_keypad": "お客様が電話のキーパッドで入力",
        "entry_link": "お客様が入力リンクで入力", "rejected": "不一致", "checked_at": "確認時刻",
        "call_not_found": "通話の参照番号ではありません。", "refresh": "更新",
    },
}
