from django import forms

from billing.portal import selectors


class PlanChangeForm(forms.Form):
    plan = forms.ModelChoiceField(
        queryset=selectors.plans_offered(),
        to_field_name="name",
        empty_label=None,
        error_messages={"invalid_choice": "Pick one of the listed plans, then change again."},
    )


class ReasonField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 300)
        kwargs.setdefault(
            "error_messages", {"required": "Say why, for the audit log, then try again."}
        )
        super().__init__(**kwargs)


class VoidForm(forms.Form):
    reason = ReasonField(label="Reason for voiding")


class AmountReasonForm(forms.Form):
    """A credit note's or a credit adjustment's amount in USD and its reason."""

    amount_usd = forms.DecimalField(
        max_digits=19,
        decimal_places=12,
        label="Amount (USD)",
        error_messages={"required": "Give an amount in USD, e.g. 12.50."},
    )
    reason = ReasonField()


class ReviewFilterForm(forms.Form):
    STATUS_CHOICES = [
        ("", "Waiting for review (draft, in review)"),
        ("draft", "Draft"),
        ("in_review", "In review"),
        ("finalized", "Finalized"),
        ("paid", "Paid"),
        ("void", "Void"),
        ("all", "All"),
    ]
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    period = forms.RegexField(
        regex=r"^\d{4}-(0[1-9]|1[0-2])$",
        required=False,
        error_messages={"invalid": "Write the period as YYYY-MM."},
        widget=forms.TextInput(attrs={"placeholder": "YYYY-MM"}),
    )
