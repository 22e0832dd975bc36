"""End-to-end tests: the console in a real browser (Debian's chromium, driven by Playwright)."""
