"""An invoice as a PDF: the invoice template's document, printed by WeasyPrint.

WeasyPrint needs Pango at run time (libpango-1.0-0, libpangoft2-1.0-0; .ci/run installs
them); it is imported on first use so that a page without a PDF never loads it."""

from django.http import HttpRequest
from django.template.loader import render_to_string

from billing.models import Invoice


def invoice_pdf(*, request: HttpRequest, invoice: Invoice) -> bytes:
    import weasyprint  # heavy, and only this view needs it

    html = render_to_string("billing/invoice_pdf.html", {"invoice": invoice}, request=request)
    return weasyprint.HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf()


def filename(invoice: Invoice) -> str:
    name = invoice.number or f"draft-{invoice.period}"
    return f"invoice-{invoice.organization.slug}-{name}.pdf"
