"""Make sure a site administrator exists (used by the run script).

Credentials come from DESC_ADMIN_USER (default `admin`) and
DESC_ADMIN_PASSWORD or DESC_ADMIN_PASSWORD_FILE; without a password one is
generated, stored in var/admin_password (mode 600) and printed; a configured
password is never printed.
"""

import secrets

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand

from elasticc.access.groups import ADMIN_GROUP
from tom_desc.settings import env_secret


class Command(BaseCommand):
    help = "Create (or update) the admin account, a member of elasticc_admin."

    def handle(self, *args, **options) -> None:
        import os

        username = os.environ.get("DESC_ADMIN_USER", "admin")
        password = env_secret("DESC_ADMIN_PASSWORD")
        password_file = settings.VAR_DIR / "admin_password"
        generated = False
        stored = False
        if not password and password_file.exists():
            password = password_file.read_text().strip()
            stored = True
        if not password:
            password = secrets.token_urlsafe(12)
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
            generated = True
        user, created = User.objects.get_or_create(username=username)
        if created or not user.check_password(password):
            user.set_password(password)
        user.is_staff = user.is_superuser = user.is_active = True
        user.save()
        user.groups.add(Group.objects.get_or_create(name=ADMIN_GROUP)[0])
        if generated or stored:
            self.stdout.write(f"Admin account: {username} / {password} (generated, kept in {password_file})")
        else:
            # A password the operator chose is never echoed into logs.
            self.stdout.write(f"Admin account: {username} (password as configured)")
