"""Page objects for Casebook, one per screen: login, shell (menu, frame, popup), new_case (the four
steps and the confirmation), search (form and results) and case_view. Locators use roles, labels and
text only; Casebook's control ids change on every page load."""
