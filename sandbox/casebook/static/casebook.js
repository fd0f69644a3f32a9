/* Casebook client script (2007). Address lookup against /api/postcode. */

function cbSetStatus(statusId, text) {
  var status = document.getElementById(statusId);
  if (status) { status.textContent = text; }
}

function cbPostcodeChanged(statusId) {
  cbSetStatus(statusId, '');
}

function cbFindAddress(postcodeId, townId, statusId, buttonId) {
  var postcode = document.getElementById(postcodeId).value;
  var button = document.getElementById(buttonId);
  button.disabled = true;
  cbSetStatus(statusId, 'Searching...');
  fetch('/api/postcode?postcode=' + encodeURIComponent(postcode), { credentials: 'same-origin' })
    .then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    })
    .then(function (result) {
      button.disabled = false;
      if (result.ok && result.data.found) {
        document.getElementById(postcodeId).value = result.data.postcode;
        document.getElementById(townId).value = result.data.town;
        cbSetStatus(statusId, 'Address found');
      } else {
        cbSetStatus(statusId, result.data.message || 'Postcode not recognised.');
      }
    })
    .catch(function () {
      button.disabled = false;
      cbSetStatus(statusId, 'System busy, please try again.');
    });
  return false;
}
