"""The Slack adapter: a Bolt app built from the bot (app.py), the Web API client and its errors
(client.py), who is who (people.py), what pmbot sends (notify.py, views.py, blocks.py) and the
HTTP or Socket Mode endpoint (server.py). Handlers live in handlers/slack*.py.
"""
