"""The signing page's static files (sign.js, sign.css), served by bot/signing_page.py."""
