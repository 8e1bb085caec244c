"""The Nylas v3 admin API: one client over one httpx.AsyncClient, typed models, errors."""
