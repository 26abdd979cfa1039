from django.core.management.base import BaseCommand, CommandError

from billing.plans import plans_load_path
from billing.plans_file import PlansFileError


class Command(BaseCommand):
    help = "Creates or updates plans from a plans file (YAML); idempotent. Prints a summary."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, **opts):
        try:
            summary = plans_load_path(path=opts["file"])
        except PlansFileError as err:
            raise CommandError(str(err)) from err
        self.stdout.write(str(summary))
