"""The console's words for contacts (reverse verification), merged into console.i18n.MESSAGES."""

from __future__ import annotations

CONTACT_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "start_contact": "Start contact",
        "start_contact_hint": "Before you call or write to a customer: uses this form's account number, channel "
                              "and ticket reference. The customer sees you on their account page.",
        "contact_title": "Contact about ticket {ticket}",
        "contact_status": "Status",
        "contact_active": "active", "contact_ended": "ended", "contact_expired": "expired",
        "contact_read_phrase": "Read this phrase to the customer:",
        "contact_shown_as": "The customer sees you as: {name}",
        "contact_expires": "Expires at {until}.",
        "contact_refresh": "Refresh status",
        "contact_end": "End contact",
        "contact_reported_big": "STOP: THE CUSTOMER REPORTED THIS CONTACT",
        "contact_reported_say": "The customer says this contact is not them / they did not ask: stop and hand "
                                "over to security.",
        "contact_not_found": "No such contact.",
    },
    "ja": {
        "start_contact": "連絡を開始",
        "start_contact_hint": "お客様へ電話・チャットする前に押してください。"
                              "このフォームの口座番号・チャネル・チケット番号を使います。お客様のマイページにあなたからの連絡として表示されます。",
        "contact_title": "チケット{ticket}の連絡",
        "contact_status": "状態",
        "contact_active": "連絡中", "contact_ended": "終了", "contact_expired": "期限切れ",
        "contact_read_phrase": "この合言葉をお客様に読み上げてください：",
        "contact_shown_as": "お客様に表示される名前：{name}",
        "contact_expires": "{until} に期限切れになります。",
        "contact_refresh": "状態を更新",
        "contact_end": "連絡を終了",
        "contact_reported_big": "中止：お客様がこの連絡を報告しました",
        "contact_reported_say": "お客様は「自分ではない／依頼していない」と報告しています。対応を中止し、"
                                "セキュリティ担当に引き継いでください。",
        "contact_not_found": "該当する連絡はありません。",
    },
}
