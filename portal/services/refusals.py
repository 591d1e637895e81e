"""What the rules refuse, in one shape for every service: (form field or None, message) problems the
page shows beside each answer; str() and .message are the first message (for a banner)."""


class Refused(ValueError):
    def __init__(self, problems: list[tuple[str | None, str]] | str):
        if isinstance(problems, str):
            problems = [(None, problems)]
        self.problems = list(problems)
        super().__init__(self.problems[0][1])

    @property
    def message(self) -> str:
        return self.problems[0][1]
