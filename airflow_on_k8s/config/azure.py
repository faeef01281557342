"""Where the Azure resources go: the region and the resource group."""

import re
from dataclasses import dataclass

from airflow_on_k8s.config.reader import KeySpec, Reader, check

KEYS: tuple[KeySpec, ...] = (
    KeySpec("azureLocation", "string", "Azure region of the database and registry.", "westeurope"),
    KeySpec("resourceGroupName", "string", "Existing resource group to use. Empty: the program creates one.", ""),
)


@dataclass(frozen=True)
class AzureConfig:
    location: str
    resource_group_name: str | None  # None: the program creates the resource group


def parse(reader: Reader) -> AzureConfig:
    location = reader.string("azureLocation")
    check(bool(re.fullmatch(r"[a-z0-9]+", location)), "azureLocation", location,
          "an Azure region name such as westeurope")
    group = reader.string("resourceGroupName")
    check(group == "" or bool(re.fullmatch(r"[-\w.()]{0,89}[-\w()]", group)), "resourceGroupName", group,
          "a resource group name (1-90 letters, digits, '-', '_', '.', '(', ')', not ending in '.')")
    return AzureConfig(location=location, resource_group_name=group or None)
