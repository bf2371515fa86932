"""The web chat: python app.py [--corpus DIR] [--index DIR] [--host 127.0.0.1] [--port 7860] [--share]."""

from assistant.webapp import main

if __name__ == "__main__":
    main()
