"""DAGs from Git: the repository git-sync follows, how it authenticates, and how often it pulls."""

import re
from dataclasses import dataclass
from typing import Literal

from airflow_on_k8s.config.reader import KeySpec, Reader, SecretValue, check, split_url

GIT_AUTH_MODES = ("ssh", "none")

KEYS: tuple[KeySpec, ...] = (
    KeySpec("gitRepo", "string", "Git repository holding the DAGs (SSH URL when gitAuth is ssh)."),
    KeySpec("gitAuth", "string", "ssh (deploy key) or none (public HTTPS repository).", "ssh"),
    KeySpec("gitBranch", "string", "Branch git-sync follows.", "main"),
    KeySpec("gitRev", "string", "Revision within the branch (HEAD follows the branch tip).", "HEAD"),
    KeySpec("gitSubPath", "string", "Folder of the DAGs inside the repository ('' for the root).",
            "dags"),
    KeySpec("gitSyncPeriod", "string", "How often git-sync pulls (Go duration).", "30s"),
    KeySpec("gitSyncDepth", "integer", "Clone depth (0: full history).", 1),
    KeySpec("gitKnownHosts", "string",
            "known_hosts lines for the git server (required with gitAuth ssh).", ""),
    KeySpec("gitSshPrivateKey", "string",
            "OpenSSH private deploy key (set with --secret). Empty: an ED25519 key is generated.",
            "", secret=True),
)
_GIT_REF = re.compile(r"^(?!/)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]+(?<![/.])$")
_GO_DURATION = re.compile(r"^(?:\d+(?:h|m|s|ms))+$")
_SCP_LIKE_SSH = re.compile(r"^[A-Za-z0-9._-]+@(?P<host>[A-Za-z0-9.-]+):(?!/)[^\s]+$")
_KNOWN_HOSTS_LINE = re.compile(
    r"^(?P<hosts>\S+)\s+(?P<type>[a-z0-9@.-]+)\s+(?P<key>[A-Za-z0-9+/]+={0,2})(?:\s.*)?$")


@dataclass(frozen=True)
class GitSyncConfig:
    repo: str
    auth: Literal["ssh", "none"]
    branch: str
    rev: str
    sub_path: str
    period: str
    depth: int
    known_hosts: str
    ssh_private_key: SecretValue | None
    port: int


def git_host(repo: str) -> str | None:
    """The host of an SSH git URL (scp-like or ssh://), or None if the URL is not SSH."""
    scp = _SCP_LIKE_SSH.match(repo)
    if scp:
        return scp.group("host")
    parts = split_url(repo)
    if parts.scheme == "ssh" and parts.hostname and parts.path not in ("", "/"):
        return parts.hostname
    return None


def git_port(repo: str) -> int:
    """The TCP port git-sync connects to: ssh://host:2222/..., else 22 for SSH and 443 for https."""
    if _SCP_LIKE_SSH.match(repo):
        return 22
    parts = split_url(repo)
    return parts.port or (443 if parts.scheme == "https" else 22)


def _known_hosts_cover(known_hosts: str, host: str, port: int) -> bool:
    # OpenSSH writes hosts on other ports than 22 as [host]:port.
    wanted = host if port == 22 else f"[{host}]:{port}"
    for line in known_hosts.splitlines():
        match = _KNOWN_HOSTS_LINE.match(line.strip())
        if match and wanted in match.group("hosts").split(","):
            return True
    return False


def _known_hosts_valid(known_hosts: str) -> bool:
    lines = [line.strip() for line in known_hosts.splitlines() if line.strip()]
    return bool(lines) and all(_KNOWN_HOSTS_LINE.match(line) for line in lines)


def parse(reader: Reader) -> GitSyncConfig:
    auth = reader.choice("gitAuth", GIT_AUTH_MODES)
    repo = reader.string("gitRepo")
    private_key = reader.secret("gitSshPrivateKey")
    known_hosts = reader.string("gitKnownHosts")
    if auth == "ssh":
        host = git_host(repo)
        check(host is not None, "gitRepo", repo,
               "an SSH URL (git@github.com:org/dags.git or ssh://git@host/org/dags.git) "
               "because gitAuth is ssh")
        assert host is not None
        check(_known_hosts_valid(known_hosts), "gitKnownHosts", known_hosts,
               "known_hosts lines '<host> <key-type> <base64 key>' (required with gitAuth ssh, "
               "e.g. from `ssh-keyscan`)")
        port = git_port(repo)
        check(_known_hosts_cover(known_hosts, host, port), "gitKnownHosts", known_hosts,
               f"a known_hosts line for the gitRepo host {host if port == 22 else f'[{host}]:{port}'}")
        if private_key is not None:
            check("PRIVATE KEY-----" in private_key.value, "gitSshPrivateKey", private_key.value,
                   "an OpenSSH or PEM private key", secret=True)
    else:
        parts = split_url(repo)
        check(parts.scheme == "https" and bool(parts.hostname) and parts.password is None
               and parts.username is None, "gitRepo", repo,
               "an https:// URL without credentials because gitAuth is none")
        check(private_key is None, "gitSshPrivateKey", "[secret]",
               "empty because gitAuth is none", secret=True)
    branch = reader.string("gitBranch")
    check(bool(_GIT_REF.match(branch)), "gitBranch", branch, "a git branch name such as main")
    rev = reader.string("gitRev")
    check(rev == "HEAD" or bool(re.fullmatch(r"[0-9a-f]{7,40}", rev)), "gitRev", rev,
           "HEAD or a commit hash (7-40 lowercase hex digits)")
    sub_path = reader.string("gitSubPath").strip("/")
    check(".." not in sub_path.split("/") and not any(c.isspace() for c in sub_path),
           "gitSubPath", sub_path, "a relative folder inside the repository without '..'")
    period = reader.string("gitSyncPeriod")
    check(bool(_GO_DURATION.match(period)) and re.search(r"[1-9]", period) is not None,
           "gitSyncPeriod", period, "a positive Go duration such as 30s or 1m")
    depth = reader.integer("gitSyncDepth", 0, 10_000)
    return GitSyncConfig(repo=repo, auth="ssh" if auth == "ssh" else "none", branch=branch,
                         rev=rev, sub_path=sub_path, period=period, depth=depth,
                         known_hosts=known_hosts, ssh_private_key=private_key, port=git_port(repo))
