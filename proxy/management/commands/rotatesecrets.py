"""`manage.py rotatesecrets`: re-encrypts every stored provider secret with the first key
of PROVIDER_SECRETS_KEY, so that the keys after it can be dropped. Idempotent: a secret
already under the first key is left as it is."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from proxy import crypto
from proxy.models import Provider


class Command(BaseCommand):
    help = "Re-encrypt every provider secret with the first key of PROVIDER_SECRETS_KEY."

    def handle(self, *args: object, **options: object) -> None:
        rotated = unchanged = 0
        with transaction.atomic():
            providers = Provider.objects.select_for_update().exclude(api_key_encrypted="")
            for provider in providers.order_by("pk"):
                try:
                    token = crypto.rotate(provider.api_key_encrypted)
                except ValueError as exc:
                    raise CommandError(
                        f"provider {provider.name}: {exc} Nothing was changed."
                    ) from exc
                if token == provider.api_key_encrypted:
                    unchanged += 1
                    continue
                # update(), not save(): only the ciphertext changes, so updated_at (what
                # the proxy's route caches watch) stays, and no cache reload is forced.
                Provider.objects.filter(pk=provider.pk).update(api_key_encrypted=token)
                rotated += 1
        self.stdout.write(
            f"{rotated} provider secret(s) re-encrypted with the first key, "
            f"{unchanged} already under it."
        )
