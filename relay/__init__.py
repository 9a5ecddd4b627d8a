"""The relay domain: referral sheets, hops (handoffs), the workflow, access and escalation."""
