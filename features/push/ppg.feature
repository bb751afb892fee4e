# PPG scenarios: PAP in (the harness is the Push Initiator), push out to the
# bearers the harness plays (SMSC for WSP over SMS, OTA-HTTP target, SIP device).
# Seeds 000 (MMS notifications over OMA Push) and 002 (WAP 1.2.1 / 2.0 PPGs,
# Push over SIP). The bearers are shared by the run and serve the scenarios
# side by side: each one pushes to fresh numbers with fresh push-ids and
# judges only what carries them.
@ppg
Feature: A Push Proxy Gateway takes PAP submissions and pushes the content unchanged

  # The bearer need not be up for the PPG to accept (or refuse) a submission.
  @PUSH-1 @if:push_sms
  Scenario: A valid PAP submission is accepted with its push-id
    Given the harness plays the PPG's bearers
    When the push initiator submits 60 bytes of "text/plain" for "x-wap-application:wta.ua" to a PLMN address
    Then the PPG accepts it with HTTP 2xx and result 1000 or 1001 for its push-id

  # RFC 2818: PAP over TLS, the PPG's certificate checked as the profile's
  # tls section says (against the run's lab CA by default).
  @PUSH-1 @if:push_sms @if:pap_https
  Scenario: A valid PAP submission over HTTPS is accepted with its push-id
    Given the harness plays the PPG's bearers
    And the push initiator submits over HTTPS
    When the push initiator submits 60 bytes of "text/plain" for "x-wap-application:wta.ua" to a PLMN address
    Then the PPG accepts it with HTTP 2xx and result 1000 or 1001 for its push-id

  @PUSH-2 @if:push_sms
  Scenario: The content reaches the SMS bearer as a WSP push to port 2948, byte for byte
    Given the harness plays the PPG's bearers
    And the PPG is bound to the harness SMSC
    When the push initiator submits 60 bytes of "text/plain" for "x-wap-application:wta.ua" to a PLMN address
    Then the content reaches the SMSC as a WSP push to port 2948 with its content type, application id and body unchanged

  @PUSH-2 @if:push_sms
  Scenario: Content longer than one short message is segmented and reassembles to the same bytes
    Given the harness plays the PPG's bearers
    And the PPG is bound to the harness SMSC
    When the push initiator submits 400 bytes of "text/plain" for "x-wap-application:wta.ua" to a PLMN address
    Then the content reaches the SMSC as a WSP push to port 2948 with its content type, application id and body unchanged
    And it arrived in 3 or more concatenated short messages

  @PUSH-13 @if:push_sms
  Scenario: A pushed M-Notification.ind arrives unchanged and decodes to the submitted fields
    Given the harness plays the PPG's bearers
    And the PPG is bound to the harness SMSC
    When the push initiator submits an M-Notification.ind for "x-wap-application:mms.ua" to a PLMN address
    Then the content reaches the SMSC as a WSP push to port 2948 with its content type, application id and body unchanged
    And the pushed M-Notification.ind decodes to the fields that were submitted

  @PUSH-3 @if:wap_2_0
  Scenario: A WAP 2.0 PPG also pushes over HTTP (OTA-HTTP)
    Given the harness plays the PPG's bearers
    When the push initiator submits 80 bytes of "text/plain" for "x-wap-application:wta.ua" to the OTA-HTTP target's IP address
    Then the content reaches the OTA-HTTP target with its content type, application id and body unchanged

  # OTA-HTTP over TLS (RFC 2818): the harness plays a terminal that takes
  # pushes over TLS only (ppg.ota_https, presenting the run's harness
  # certificate); the PPG connects with a TLS handshake and pushes as over
  # plain HTTP. Plaintext on the TLS port fails, with the bytes that came.
  @PUSH-3 @if:wap_2_0 @if:ota_https @harness:ota_tls
  Scenario: A WAP 2.0 PPG pushes over HTTPS to a terminal that takes OTA-HTTP over TLS
    Given the harness plays the PPG's bearers
    And the harness's OTA-HTTP target takes the push over TLS
    When the push initiator submits 80 bytes of "text/plain" for "x-wap-application:wta.ua" to the OTA-HTTP target's IP address
    Then the content reaches the OTA-HTTP target with its content type, application id and body unchanged

  @PUSH-10 @if:push_sip
  Scenario: A PPG with the SIP bearer pushes as a SIP MESSAGE with the application's feature tag
    Given the harness plays the PPG's bearers
    When the push initiator submits an M-Notification.ind for "x-wap-application:mms.ua" to a SIP address
    Then the PPG accepts it with HTTP 2xx and result 1000 or 1001 for its push-id
    And the content reaches the SIP device as a MESSAGE with the application's feature tag, its content type and body unchanged

  # Push over SIP to a sips: address (RFC 3261 §26, RFC 5630): the PPG
  # sends the MESSAGE over TLS to the harness device's TLS address
  # (ppg.sip_tls, the run's harness certificate), never in the clear.
  @PUSH-10 @if:push_sip @if:ppg_sip_tls @harness:sip_tls
  Scenario: A PPG pushes to a sips: address over TLS as a SIP MESSAGE with the application's feature tag
    Given the harness plays the PPG's bearers
    And the harness's SIP device takes the push over TLS
    When the push initiator submits an M-Notification.ind for "x-wap-application:mms.ua" to a SIP address
    Then the PPG accepts it with HTTP 2xx and result 1000 or 1001 for its push-id
    And the content reaches the SIP device as a MESSAGE with the application's feature tag, its content type and body unchanged

  @PUSH-14 @if:push_sms
  Scenario: A PAP document that is not well-formed XML is refused with 2000
    Given the harness plays the PPG's bearers
    When the push initiator submits a push whose PAP document is not well-formed XML
    Then the PPG refuses it with result code 2000

  @PUSH-14 @if:push_sms
  Scenario: A submission without its content part is refused with 2000
    Given the harness plays the PPG's bearers
    When the push initiator submits a push without its content part
    Then the PPG refuses it with result code 2000

  @PUSH-15 @if:push_sms
  Scenario: A PLMN address that is not a number is refused with 2002
    Given the harness plays the PPG's bearers
    When the push initiator submits a push to the address "WAPPUSH=liaison/TYPE=PLMN@{domain}"
    Then the PPG refuses it with result code 2002

  @PUSH-16 @if:push_sms
  Scenario: A duplicate push-id is refused with 2007 and the content is pushed once
    Given the harness plays the PPG's bearers
    And the PPG is bound to the harness SMSC
    When the push initiator submits 50 bytes of "text/plain" for "x-wap-application:wta.ua" to a PLMN address
    And the push initiator submits the same push again
    Then the first push is accepted and the second refused with result code 2007
    And the content reaches the SMSC exactly once

  # Judged per submission: only those the PPG answered with a 2xxx code count
  # (a PPG that accepts a bad submission fails PUSH-14/15, not this).
  @PUSH-17 @if:push_sms
  Scenario: Submissions the PPG refuses reach no bearer
    Given the harness plays the PPG's bearers
    And the PPG is bound to the harness SMSC
    When the push initiator submits a push whose PAP document is not well-formed XML
    And the push initiator submits a push without its content part
    And the push initiator submits a push to the address "WAPPUSH=liaison/TYPE=PLMN@{domain}"
    Then none of the submissions the PPG refused reaches any bearer
