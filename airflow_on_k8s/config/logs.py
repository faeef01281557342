"""Task logs that outlive their pods: Azure Blob Storage, written through workload identity."""

import re
from dataclasses import dataclass

from airflow_on_k8s.config.reader import KeySpec, Reader, check

KEYS: tuple[KeySpec, ...] = (
    KeySpec("taskLogs", "boolean", "Ship task logs to Azure Blob Storage (they outlive their pods).", True),
    KeySpec("taskLogsStorageAccountName", "string",
            "Storage account for logs (3-24 lowercase alnum). Empty: generated.", ""),
    KeySpec("taskLogsContainer", "string", "Blob container of the task logs.", "airflow-logs"),
)


@dataclass(frozen=True)
class TaskLogsConfig:
    storage_account_name: str | None
    container: str


def parse(reader: Reader) -> TaskLogsConfig | None:
    if not reader.boolean("taskLogs"):
        return None
    account = reader.string("taskLogsStorageAccountName")
    check(account == "" or bool(re.fullmatch(r"[a-z0-9]{3,24}", account)), "taskLogsStorageAccountName", account,
          "3-24 lowercase letters and digits, globally unique (empty: generated)")
    container = reader.string("taskLogsContainer")
    check(bool(re.fullmatch(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]", container)), "taskLogsContainer",
          container, "a blob container name: 3-63 lowercase letters, digits and single '-'")
    return TaskLogsConfig(storage_account_name=account or None, container=container)
