"""The agent watch's console words (merged into console.i18n.MESSAGES)."""

from __future__ import annotations

AGENT_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "agents": "Agent alerts", "no_anomalies": "No open agent alerts.",
        "agent_blocked": "Your account is paused by security (checks, codes, contacts, approval requests and "
                         "customer pages); ask your supervisor.",
        "anomaly_agent": "Agent {id}", "anomaly_key": "API key {id}",
        "anomaly_distinct_customers": "looked up {count} different customers in {minutes} min (limit {threshold})",
        "anomaly_failures": "had {count} failed checks in {minutes} min (limit {threshold})",
        "raised_at": "Raised", "clear": "Clear", "no_anomaly": "That alert is not open any more.",
    },
    "ja": {
        "agents": "担当者アラート", "no_anomalies": "未対応の担当者アラートはありません。",
        "agent_blocked": "セキュリティによりあなたのアカウントは一時停止されています（本人確認、コード送信、連絡、"
                         "承認依頼、お客様ページ）。スーパーバイザーに連絡してください。",
        "anomaly_agent": "担当者 {id}", "anomaly_key": "APIキー {id}",
        "anomaly_distinct_customers": "{minutes} 分間に {count} 人の異なるお客様を照会しました（上限 {threshold}）",
        "anomaly_failures": "{minutes} 分間に本人確認の失敗が {count} 回ありました（上限 {threshold}）",
        "raised_at": "検知時刻", "clear": "解除", "no_anomaly": "このアラートはすでに解除されています。",
    },
}
