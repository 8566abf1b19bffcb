"""Read models rebuilt from the event log."""

from projections.follow_up import cases_by_year_and_gender, enrolled_case_ids

__all__ = ["cases_by_year_and_gender", "enrolled_case_ids"]
