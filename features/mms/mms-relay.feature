# MMS relay scenarios (seed 000): SIP URI addressing in MMS, and MMS
# notifications through OMA Push (WSP push over SMS) and Push over SIP.
# The harness is every MMS client on MM1 (HTTP POST of M-Send.req,
# M-NotifyResp.ind and M-Acknowledge.ind; GET of the MM) and every terminal the
# relay pushes to (the SMSC, the SIP device). SIP URIs go on the wire in the
# form the profile declares (mms_relay.sip_address_form: the bare URI by
# default, or escaped-value/TYPE=SIP). The bearers are shared by the run
# and serve the scenarios side by side: each one's users have fresh numbers,
# and it judges only the pushes that carry them.
@mms-relay
Feature: An MMS relay takes SIP URI addresses and notifies over OMA Push and Push over SIP

  @ADDR-2
  Scenario: An MM addressed to a SIP URI is accepted, not refused as an unknown address
    Given the harness plays the MMS relay's bearers
    When an MSISDN user sends an MM to a SIP URI user
    Then the relay accepts it with M-Send.conf status Ok and a Message-ID

  @ADDR-6
  Scenario: An MM addressed to a malformed SIP URI gets an unresolved-address status
    Given the harness plays the MMS relay's bearers
    When an MSISDN user sends an MM to a malformed SIP URI
    Then the relay refuses it with an unresolved-address status, not Ok

  @ADDR-1 @if:mms_notify_sms
  Scenario: MSISDN and e-mail addresses keep working
    Given the harness plays the MMS relay's bearers
    And the MMS relay is bound to the harness SMSC
    When an MSISDN user sends an MM to an MSISDN user and an e-mail user
    Then the relay accepts it with M-Send.conf status Ok and a Message-ID
    And the recipient receives a notification
    When the recipient retrieves the MM
    Then the retrieved MM names the originator and every recipient exactly as sent

  @ADDR-3 @if:mms_notify_sip
  Scenario: The SIP URI recipient is notified and retrieves an MM that names it unchanged
    Given the harness plays the MMS relay's bearers
    When an MSISDN user sends an MM to a SIP URI user
    Then the relay accepts it with M-Send.conf status Ok and a Message-ID
    And the recipient receives a notification
    When the recipient retrieves the MM
    Then the retrieved MM lists the recipient in To exactly as sent

  @ADDR-4 @if:mms_notify_sms
  Scenario: A SIP URI originator reaches the recipient unchanged
    Given the harness plays the MMS relay's bearers
    And the MMS relay is bound to the harness SMSC
    When a SIP URI user sends an MM to an MSISDN user
    Then the relay accepts it with M-Send.conf status Ok and a Message-ID
    And the recipient receives a notification
    And the notification, if it names the originator, names it exactly as sent
    When the recipient retrieves the MM
    Then the retrieved MM names the originator as From exactly as sent

  @ADDR-7 @if:mms_notify_sms @if:mms_notify_sip
  Scenario: Each recipient of a mixed list (MSISDN, e-mail, SIP URI) is served
    Given the harness plays the MMS relay's bearers
    And the MMS relay is bound to the harness SMSC
    When an MSISDN user sends an MM to an MSISDN user, an e-mail user and a SIP URI user
    Then the relay accepts it with M-Send.conf status Ok and a Message-ID
    And each MSISDN and SIP URI recipient receives its own notification
    And each MSISDN and SIP URI recipient retrieves the MM it was notified of

  @DEFER-3 @if:mms_notify_sms
  Scenario: An MSISDN recipient is notified by WAP Push over SMS
    Given the harness plays the MMS relay's bearers
    And the MMS relay is bound to the harness SMSC
    When an MSISDN user sends an MM to an MSISDN user
    Then the relay accepts it with M-Send.conf status Ok and a Message-ID
    And the recipient's notification is a WSP push over SMS to port 2948 for mms.ua, content type application/vnd.wap.mms-message

  @DEFER-4 @if:mms_notify_sip
  Scenario: A SIP URI recipient is notified by Push over SIP
    Given the harness plays the MMS relay's bearers
    When an MSISDN user sends an MM to a SIP URI user
    Then the relay accepts it with M-Send.conf status Ok and a Message-ID
    And the recipient's notification is a SIP MESSAGE to its URI with the feature tag mms.ua and Content-Type application/vnd.wap.mms-message

  # RFC 3261 §26.2.2 and RFC 5630: a sips: Request-URI asks for TLS on
  # every hop, so the relay's MESSAGE for a sips: recipient goes to the
  # device's TLS address (mms_relay.sip_device_tls), where the harness
  # presents its certificate from the run's lab CA. The relay's connection
  # serves every scenario at once: its TLS records are in the run-level
  # pcap (run-level-mms-relay-bearers), not the scenario's.
  @DEFER-4 @if:mms_notify_sips
  Scenario: A SIPS URI recipient is notified by Push over SIP over TLS
    Given the harness plays the MMS relay's bearers
    When an MSISDN user sends an MM to a SIPS URI user
    Then the relay accepts it with M-Send.conf status Ok and a Message-ID
    And the recipient's notification is a SIP MESSAGE over TLS to its sips: URI with the feature tag mms.ua and Content-Type application/vnd.wap.mms-message

  @DEFER-1 @if:mms_notify_sip
  Scenario: An MM between IMS users waits for deferred retrieval and comes back byte for byte
    Given the harness plays the MMS relay's bearers
    When a SIP URI user sends an MM to a SIP URI user
    Then the relay accepts it with M-Send.conf status Ok and a Message-ID
    And the recipient receives a notification
    When the recipient defers retrieval
    And the recipient later retrieves the MM and acknowledges it
    Then the retrieved content equals what was sent, byte for byte

  # RFC 2818: MM1 over TLS, the relay's certificate checked as the
  # profile's tls section says (against the run's lab CA by default). Every
  # request goes to the HTTPS URL; the MM is fetched from the notification's
  # Content-Location as that URL says (over TLS when it is https://).
  @DEFER-1 @if:mms_notify_sip @if:mm1_https
  Scenario: Over HTTPS, an MM between IMS users waits for deferred retrieval and comes back byte for byte
    Given the harness plays the MMS relay's bearers
    And the MMS clients reach the relay over HTTPS
    When a SIP URI user sends an MM to a SIP URI user
    Then the relay accepts it with M-Send.conf status Ok and a Message-ID
    And the recipient receives a notification
    When the recipient defers retrieval
    And the recipient later retrieves the MM and acknowledges it
    Then the retrieved content equals what was sent, byte for byte

  @ADDR-8 @if:mms_notify_sms
  Scenario: The delivery report comes only after the recipient has retrieved the MM
    Given the harness plays the MMS relay's bearers
    And the MMS relay is bound to the harness SMSC
    When an MSISDN user sends an MM with a delivery report to an MSISDN user
    Then the relay accepts it with M-Send.conf status Ok and a Message-ID
    And the recipient receives a notification
    And after a pause no delivery report has reached the originator
    When the recipient retrieves the MM
    Then the originator receives an M-Delivery.ind with status Retrieved for the MM, after the recipient's answer

  @ADDR-8 @if:mms_notify_sms
  Scenario: A rejected MM is reported as Rejected, and only after the rejection
    Given the harness plays the MMS relay's bearers
    And the MMS relay is bound to the harness SMSC
    When an MSISDN user sends an MM with a delivery report to an MSISDN user
    Then the relay accepts it with M-Send.conf status Ok and a Message-ID
    And the recipient receives a notification
    And after a pause no delivery report has reached the originator
    When the recipient rejects the MM
    Then the originator receives an M-Delivery.ind with status Rejected for the MM, after the recipient's answer
