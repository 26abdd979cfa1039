"""Portal pages of billing: the owner's billing page, invoice views, the staff review."""
