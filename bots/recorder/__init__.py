"""Turning what Playwright's recorder reports into a page-object skeleton for ``bots/<app>/pages/``.

* ``actions.py`` reduces what the recorder reports to :class:`RecordedAction` s: locators, the screen
  each action was made on, which fields took secrets. Typed values stop there.
* ``skeleton.py`` turns a list of them into the source of ``bots/<app>/pages/recorded_<n>.py``.

Both are pure (no Playwright), so they are tested on recorded action lists.
"""
