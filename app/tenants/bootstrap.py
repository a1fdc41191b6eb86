"""First start on a new database: a tenant 'local' with an admin key, kept in a file.

`make run` stays friction-free: the key is saved (owner-only) in the data folder and the
server prints a URL that opens the playgrounds with it.
"""

from __future__ import annotations

from pathlib import Path

from app.errors import InvalidRequest
from app.storage.private_files import write_private
from app.tenants.models import KeyCreate, TenantCreate
from app.tenants.service import TenantService

LOCAL_TENANT = "local"


def ensure_local_admin(tenants: TenantService, key_file: Path) -> str | None:
    """The saved local admin key, created with its tenant if the database has no tenant."""
    if not tenants.has_tenants():
        try:
            tenants.create_tenant(TenantCreate(id=LOCAL_TENANT, name="Local development"))
        except InvalidRequest:  # a replica starting at the same moment on a shared database
            return None
        created = tenants.create_key(LOCAL_TENANT, KeyCreate(name="local admin", admin=True))
        key_file.unlink(missing_ok=True)
        write_private(key_file, created.key)
    return key_file.read_text().strip() if key_file.exists() else None
