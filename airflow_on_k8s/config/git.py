"""DAGs from Git: the repository git-sync follows, how it authenticates, and how often it pulls."""

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal

from airflow_on_k8s.config.reader import KeySpec, Reader, SecretValue, check, is_host, split_url, url_problem

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
            "known_hosts lines for the git server (required with gitAuth ssh).", "",
            max_length=65_536, multiline=True),
    KeySpec("gitSshPrivateKey", "string",
            "OpenSSH private deploy key (set with --secret). Empty: an ED25519 key is generated.",
            "", secret=True, max_length=16_384, multiline=True),
)
_GIT_REF = re.compile(r"\A(?!/)(?!.*\.\.)(?!.*//)(?!.*/\.)(?!\.)[A-Za-z0-9._/-]+(?<![/.])(?<!\.lock)\Z")
_GO_DURATION = re.compile(r"\A(?:[0-9]+(?:h|m|s|ms))+\Z")
_SCP_LIKE_SSH = re.compile(r"\A[A-Za-z0-9._-]+@(?P<host>[A-Za-z0-9.-]+):(?!/)[^\s]+\Z")
# One known_hosts line (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"): an optional marker, host
# patterns (or a hashed |1|salt|hash entry), the key type, the base64 key, an optional comment.
_KNOWN_HOSTS_LINE = re.compile(
    r"\A(?:(?P<marker>@cert-authority|@revoked)[ \t]+)?(?P<hosts>[^\s]+)[ \t]+(?P<type>[a-z0-9@.-]+)[ \t]+"
    r"(?P<key>[A-Za-z0-9+/]+={0,2})(?:[ \t].*)?\Z")
_HASHED_HOST = re.compile(r"\A\|1\|(?P<salt>[A-Za-z0-9+/]+={0,2})\|(?P<hash>[A-Za-z0-9+/]+={0,2})\Z")
_MAX_KNOWN_HOSTS_LINES = 1000


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
    scp = _SCP_LIKE_SSH.fullmatch(repo)
    if scp:
        return scp.group("host") if is_host(scp.group("host")) else None
    parts = split_url(repo)
    if parts.scheme == "ssh" and is_host(parts.hostname) and parts.path not in ("", "/") \
            and not any(ch.isspace() for ch in repo):
        return parts.hostname
    return None


def git_port(repo: str) -> int:
    """The TCP port git-sync connects to: ssh://host:2222/..., else 22 for SSH and 443 for https."""
    if _SCP_LIKE_SSH.fullmatch(repo):
        return 22
    parts = split_url(repo)
    return parts.port or (443 if parts.scheme == "https" else 22)


def _wildcard_match(pattern: str, text: str) -> bool:
    """OpenSSH's match_pattern: '*' any run, '?' one character; greedy with one backtrack point,
    so time stays linear in practice (a regex from many '*' could backtrack exponentially)."""
    p = t = 0
    star_p, star_t = -1, 0
    while t < len(text):
        if p < len(pattern) and (pattern[p] == "?" or pattern[p] == text[t]):
            p, t = p + 1, t + 1
        elif p < len(pattern) and pattern[p] == "*":
            star_p, star_t = p, t
            p += 1
        elif star_p >= 0:
            p, star_t = star_p + 1, star_t + 1
            t = star_t
        else:
            return False
    return all(ch == "*" for ch in pattern[p:])


def _host_field_matches(hosts: str, wanted: str) -> bool:
    """Whether a known_hosts host field names `wanted` (host, or [host]:port off port 22): a
    hashed entry by HMAC-SHA1 of the name, else comma-separated patterns where '!' negates."""
    hashed = _HASHED_HOST.fullmatch(hosts)
    if hashed:
        try:
            salt = base64.b64decode(hashed.group("salt"), validate=True)
            digest = base64.b64decode(hashed.group("hash"), validate=True)
        except ValueError:
            return False
        return hmac.compare_digest(hmac.new(salt, wanted.encode(), hashlib.sha1).digest(), digest)
    matched = False
    for pattern in hosts.lower().split(","):
        if pattern.startswith("!"):
            if _wildcard_match(pattern[1:], wanted):
                return False
        elif _wildcard_match(pattern, wanted):
            matched = True
    return matched


def _known_hosts_entries(known_hosts: str) -> list[re.Match[str]] | None:
    """The key lines of a known_hosts text (comments and blank lines skipped), or None when a
    line is not one."""
    entries = []
    for raw_line in known_hosts.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        match = _KNOWN_HOSTS_LINE.fullmatch(line)
        if match is None:
            return None
        entries.append(match)
    return entries


def _known_hosts_cover(known_hosts: str, host: str, port: int) -> bool:
    # OpenSSH looks up hosts on other ports than 22 as [host]:port, lowercased; a CA line covers
    # the hosts whose certificates it signs; a revoked key covers nothing.
    wanted = (host if port == 22 else f"[{host}]:{port}").lower()
    return any(entry.group("marker") != "@revoked" and _host_field_matches(entry.group("hosts"), wanted)
               for entry in _known_hosts_entries(known_hosts) or [])


def _known_hosts_valid(known_hosts: str) -> bool:
    if known_hosts.count("\n") > _MAX_KNOWN_HOSTS_LINES:
        return False
    entries = _known_hosts_entries(known_hosts) or []
    return any(entry.group("marker") != "@revoked" for entry in entries)


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
               "known_hosts lines '[@cert-authority] <hosts> <key-type> <base64 key> [comment]' (required "
               "with gitAuth ssh, e.g. from `ssh-keyscan`; hashed hosts and # comments are fine)")
        port = git_port(repo)
        check(_known_hosts_cover(known_hosts, host, port), "gitKnownHosts", known_hosts,
               f"a known_hosts line for the gitRepo host {host if port == 22 else f'[{host}]:{port}'}")
        if private_key is not None:
            check("PRIVATE KEY-----" in private_key.value, "gitSshPrivateKey", private_key.value,
                   "an OpenSSH or PEM private key", secret=True)
    else:
        check(url_problem(repo, "https") is None, "gitRepo", repo,
               "an https:// URL with a host and without credentials because gitAuth is none")
        check(private_key is None, "gitSshPrivateKey", "[secret]",
               "empty because gitAuth is none", secret=True)
    branch = reader.string("gitBranch")
    check(bool(_GIT_REF.fullmatch(branch)), "gitBranch", branch, "a git branch name such as main")
    rev = reader.string("gitRev")
    check(rev == "HEAD" or bool(re.fullmatch(r"[0-9a-f]{7,40}", rev)), "gitRev", rev,
           "HEAD or a commit hash (7-40 lowercase hex digits)")
    sub_path = reader.string("gitSubPath").strip("/")
    check(".." not in sub_path.split("/") and not any(c.isspace() for c in sub_path),
           "gitSubPath", sub_path, "a relative folder inside the repository without '..'")
    period = reader.string("gitSyncPeriod")
    check(bool(_GO_DURATION.fullmatch(period)) and re.search(r"[1-9]", period) is not None,
           "gitSyncPeriod", period, "a positive Go duration such as 30s or 1m")
    depth = reader.integer("gitSyncDepth", 0, 10_000)
    return GitSyncConfig(repo=repo, auth="ssh" if auth == "ssh" else "none", branch=branch,
                         rev=rev, sub_path=sub_path, period=period, depth=depth,
                         known_hosts=known_hosts, ssh_private_key=private_key, port=git_port(repo))
