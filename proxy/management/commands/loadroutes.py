from django.core.management.base import BaseCommand, CommandError

from proxy.routes_file import RoutesFileError, load_path


class Command(BaseCommand):
    help = "Creates or updates providers and models from a routes file (YAML); idempotent."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, **opts):
        try:
            summary = load_path(opts["file"])
        except RoutesFileError as err:
            raise CommandError(str(err)) from err
        self.stdout.write(str(summary))
