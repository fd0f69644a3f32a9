"""`clerk record`: Playwright's recorder on a live application, turned into a page-object skeleton.

* ``session.py`` runs the recording: the installed Chromium, headed (on a virtual X display from
  ``display.py`` where there is no screen), with Playwright's recorder streaming each action as it is made.
* ``actions.py`` reduces what the recorder reports to :class:`RecordedAction` s: locators, the screen
  each action was made on, which fields took secrets. Typed values stop there.
* ``skeleton.py`` turns a list of them into the source of ``bots/<app>/pages/recorded_<n>.py``.

``actions.py`` and ``skeleton.py`` are pure (no Playwright), so they are tested on recorded action lists.
"""
