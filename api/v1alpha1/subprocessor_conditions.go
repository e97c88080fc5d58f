package v1alpha1

// Condition types about Subprocessors.
const (
	// ConditionCompliant says whether a Subprocessor's transfer of personal data is lawful:
	// inside the EU/EEA, or outside it with a transfer mechanism that applies.
	ConditionCompliant = "Compliant"
	// ConditionSubprocessorsCompliant, on a TenantDatabase, says whether every Subprocessor
	// in hostedBy exists and is compliant.
	ConditionSubprocessorsCompliant = "SubprocessorsCompliant"
	// ConditionCategoriesDisclosed, on a TenantDatabase, is a warning: False when its
	// DataMap holds categories of personal data that a hosting Subprocessor does not list.
	ConditionCategoriesDisclosed = "CategoriesDisclosed"
)

// Reasons of the Compliant condition.
const (
	// ReasonInsideEEA means the data stays inside the EU/EEA: no transfer, no mechanism needed.
	ReasonInsideEEA = "InsideEEA"
	// ReasonAdequacyDecision means the country has an EU adequacy decision.
	ReasonAdequacyDecision = "AdequacyDecision"
	// ReasonNoAdequacyDecision means the mechanism is adequacy but the EU has no
	// adequacy decision for the country.
	ReasonNoAdequacyDecision = "NoAdequacyDecision"
	// ReasonStandardContractualClauses means the transfer rests on SCCs.
	ReasonStandardContractualClauses = "StandardContractualClauses"
	// ReasonBindingCorporateRules means the transfer rests on BCRs.
	ReasonBindingCorporateRules = "BindingCorporateRules"
	// ReasonDerogation means the transfer rests on an Art. 49 derogation.
	ReasonDerogation = "Derogation"
	// ReasonNoTransferMechanism means the country is outside the EU/EEA and no mechanism is declared.
	ReasonNoTransferMechanism = "NoTransferMechanism"
	// ReasonUnknownCountry means the country is not an ISO 3166-1 alpha-2 code.
	ReasonUnknownCountry = "UnknownCountry"
	// ReasonNotCompliant is the Ready and Stalled reason of a Subprocessor that is not compliant.
	ReasonNotCompliant = "NotCompliant"
)

// Reasons of the TenantDatabase conditions about its hosting Subprocessors.
const (
	// ReasonAllCompliant means every Subprocessor in hostedBy exists and is compliant.
	ReasonAllCompliant = "AllCompliant"
	// ReasonNoSubprocessors means hostedBy is empty.
	ReasonNoSubprocessors = "NoSubprocessors"
	// ReasonSubprocessorMissing means a name in hostedBy has no Subprocessor.
	ReasonSubprocessorMissing = "SubprocessorMissing"
	// ReasonSubprocessorNotCompliant means a Subprocessor in hostedBy is not compliant.
	ReasonSubprocessorNotCompliant = "SubprocessorNotCompliant"
	// ReasonAllDisclosed means every hosting Subprocessor lists the DataMap's categories.
	ReasonAllDisclosed = "AllDisclosed"
	// ReasonCategoriesUndisclosed means a hosting Subprocessor does not list some of the
	// DataMap's categories.
	ReasonCategoriesUndisclosed = "CategoriesUndisclosed"
)

// Event reasons of the Subprocessor register.
const (
	// ReasonRegisterChanged is the Event of a new register revision.
	ReasonRegisterChanged = "RegisterChanged"
	// ReasonPublished is the Event on a Subprocessor added or changed in a register revision.
	ReasonPublished = "Published"
	// ReasonNotificationDelivered is the Event of a revision delivered to a subscriber.
	ReasonNotificationDelivered = "NotificationDelivered"
	// ReasonNotificationFailed is the Event of a failed delivery; it is retried with backoff.
	ReasonNotificationFailed = "NotificationFailed"
	// ReasonSubscriberInvalid is the Event of a subscriber the Secret configures wrongly.
	ReasonSubscriberInvalid = "SubscriberInvalid"
)
