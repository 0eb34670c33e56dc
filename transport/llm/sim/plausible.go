package sim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// fieldKind is what a leaf value stands for, guessed from its field's name, description and
// JSON-Schema format, so that simulated values look like real ones: a founding year is a year
// in the past, a revenue has the size of one, an e-mail address is one.
type fieldKind int

const (
	kindGeneric     fieldKind = iota
	kindYear                  // founded_year, established, year
	kindOldYear               // founded, established, incorporated: 1850..2025
	kindDate                  // format date, *_date, birthday
	kindDateTime              // format date-time, *_at
	kindEmail                 // format email, email
	kindURL                   // format uri, url, website, homepage
	kindDomain                // format hostname, domain
	kindPhone                 // phone, telephone, fax
	kindCountry               // country, nationality
	kindCountryCode           // country_code, iso country
	kindCurrency              // currency
	kindCity                  // city, town, headquarters
	kindAddress               // address, street
	kindPostal                // zip, postal code
	kindLanguage              // language
	kindTicker                // ticker, symbol
	kindIndustry              // industry, sector
	kindPerson                // ceo, founder, author, director, ...
	kindOrgName               // name, title, company, brand
	kindText                  // description, summary, about, ...
	kindTag                   // tags, keywords, categories
	kindCode                  // id, code, identifier, isin, registration
	kindUUID                  // format uuid
	kindIPv4                  // format ipv4
	kindLatitude              // latitude, lat
	kindLongitude             // longitude, lng, lon
	kindPercent               // percent, pct, share, margin, rate: 0..100
	kindRatio                 // ratio, fraction: 0..1
	kindGrowth                // growth, change: -20..40 (%)
	kindEmployees             // employees, headcount, staff
	kindMoney                 // revenue, sales, profit, valuation, funding, ...
	kindPrice                 // price, cost, fee, amount, salary
	kindPopulation            // population, inhabitants
	kindAge                   // age
	kindRating                // rating, stars: 1..5
	kindScore                 // score: 0..100
	kindMinutes               // duration, runtime
	kindCount                 // count, number, total, quantity
)

// kindWords maps a word of a field name to its kind. Words are tried from the last to the first
// ("headquarters_city" is a city, "city_population" a population), then the description's words.
var kindWords = map[string]fieldKind{
	"year": kindYear, "founded": kindOldYear, "established": kindOldYear, "inception": kindOldYear,
	"incorporated": kindOldYear, "founding": kindOldYear,
	"date": kindDate, "birthday": kindDate, "dob": kindDate, "day": kindDate,
	"at": kindDateTime, "timestamp": kindDateTime, "datetime": kindDateTime,
	"email": kindEmail, "mail": kindEmail,
	"url": kindURL, "website": kindURL, "homepage": kindURL, "site": kindURL, "link": kindURL, "uri": kindURL,
	"domain": kindDomain, "hostname": kindDomain,
	"phone": kindPhone, "telephone": kindPhone, "tel": kindPhone, "fax": kindPhone, "mobile": kindPhone,
	"country": kindCountry, "nationality": kindCountry, "jurisdiction": kindCountry,
	"currency": kindCurrency,
	"city":     kindCity, "town": kindCity, "headquarters": kindCity, "hq": kindCity, "location": kindCity,
	"address": kindAddress, "street": kindAddress,
	"zip": kindPostal, "postal": kindPostal, "postcode": kindPostal, "zipcode": kindPostal,
	"language": kindLanguage, "languages": kindLanguage,
	"ticker": kindTicker, "symbol": kindTicker,
	"industry": kindIndustry, "sector": kindIndustry, "industries": kindIndustry,
	"ceo": kindPerson, "cfo": kindPerson, "cto": kindPerson, "founder": kindPerson, "founders": kindPerson,
	"director": kindPerson, "author": kindPerson, "authors": kindPerson, "president": kindPerson,
	"chairman": kindPerson, "chair": kindPerson, "owner": kindPerson, "person": kindPerson,
	"manager": kindPerson, "contact": kindPerson, "leader": kindPerson, "inventor": kindPerson,
	"creator": kindPerson, "producer": kindPerson, "executive": kindPerson, "chief": kindPerson,
	"name": kindOrgName, "title": kindOrgName, "company": kindOrgName, "brand": kindOrgName,
	"subsidiary": kindOrgName, "parent": kindOrgName, "manufacturer": kindOrgName, "publisher": kindOrgName,
	"description": kindText, "summary": kindText, "overview": kindText, "about": kindText, "bio": kindText,
	"biography": kindText, "notes": kindText, "history": kindText, "mission": kindText, "profile": kindText,
	"tags": kindTag, "tag": kindTag, "keywords": kindTag, "categories": kindTag, "category": kindTag,
	"id": kindCode, "code": kindCode, "identifier": kindCode, "isin": kindCode, "lei": kindCode,
	"registration": kindCode, "vat": kindCode,
	"latitude": kindLatitude, "lat": kindLatitude, "longitude": kindLongitude, "lng": kindLongitude, "lon": kindLongitude,
	"percent": kindPercent, "percentage": kindPercent, "pct": kindPercent, "share": kindPercent,
	"margin": kindPercent, "rate": kindPercent, "ownership": kindPercent, "stake": kindPercent,
	"ratio": kindRatio, "fraction": kindRatio,
	"growth": kindGrowth, "change": kindGrowth,
	"employees": kindEmployees, "headcount": kindEmployees, "staff": kindEmployees, "workforce": kindEmployees,
	"employee": kindEmployees,
	"revenue":  kindMoney, "revenues": kindMoney, "sales": kindMoney, "turnover": kindMoney, "income": kindMoney,
	"profit": kindMoney, "earnings": kindMoney, "ebitda": kindMoney, "capitalization": kindMoney,
	"valuation": kindMoney, "funding": kindMoney, "assets": kindMoney, "budget": kindMoney, "debt": kindMoney,
	"equity": kindMoney, "capital": kindMoney, "cap": kindMoney, "gross": kindMoney,
	"price": kindPrice, "cost": kindPrice, "fee": kindPrice, "amount": kindPrice, "salary": kindPrice, "wage": kindPrice,
	"population": kindPopulation, "inhabitants": kindPopulation,
	"age":    kindAge,
	"rating": kindRating, "stars": kindRating,
	"score":    kindScore,
	"duration": kindMinutes, "runtime": kindMinutes, "minutes": kindMinutes,
	"count": kindCount, "number": kindCount, "num": kindCount, "total": kindCount, "quantity": kindCount,
}

// formatKinds maps a JSON-Schema format to its kind; a format wins over the name.
var formatKinds = map[string]fieldKind{
	"email": kindEmail, "idn-email": kindEmail, "uri": kindURL, "url": kindURL, "iri": kindURL,
	"uri-reference": kindURL, "hostname": kindDomain, "idn-hostname": kindDomain, "date": kindDate,
	"date-time": kindDateTime, "uuid": kindUUID, "ipv4": kindIPv4,
}

// words splits a field name or description into lower-case words: at every character that is
// not a letter or digit, and between a lower-case letter and an upper-case one (foundedYear).
func words(s string) []string {
	var out []string
	var cur []rune
	prevLower := false
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	for _, r := range s {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			prevLower = false
			continue
		case unicode.IsUpper(r) && prevLower:
			flush()
		}
		cur = append(cur, r)
		prevLower = unicode.IsLower(r)
	}
	flush()
	return out
}

// classify guesses the kind of a field from its JSON-Schema format, name and description.
func classify(name, desc, format string) fieldKind {
	if k, ok := formatKinds[format]; ok {
		return k
	}
	ws := words(name)
	for i := len(ws) - 1; i >= 0; i-- {
		if k, ok := kindWords[ws[i]]; ok {
			return refine(k, ws)
		}
	}
	// In a description, a generic word ("number of employees") gives way to a specific one.
	found := kindGeneric
	dw := words(desc)
	for _, w := range dw {
		if k, ok := kindWords[w]; ok && k != kindOrgName && k != kindDateTime {
			if k != kindCount {
				return refine(k, dw)
			}
			found = k
		}
	}
	return found
}

// refine settles a kind with the other words of the name: a country code is not a country
// name, a founding date is a date and a founding year a year.
func refine(k fieldKind, ws []string) fieldKind {
	has := func(w string) bool {
		for _, x := range ws {
			if x == w {
				return true
			}
		}
		return false
	}
	switch {
	case k == kindCountry && (has("code") || has("iso")):
		return kindCountryCode
	case k == kindCode && has("country"):
		return kindCountryCode
	case k == kindCode && has("currency"):
		return kindCurrency
	case k == kindYear && (has("founded") || has("established") || has("incorporated") || has("founding")):
		return kindOldYear
	case k == kindOldYear && (has("date") || has("on")):
		return kindDate
	}
	return k
}

// Word lists of the simulated values.
var (
	firstNames  = strings.Fields("Anna James Maria David Sofia Thomas Elena Daniel Laura Peter Julia Martin Clara Paul Nina Marc Sarah Lukas Emma Omar Yuki Priya Chen Lars")
	lastNames   = strings.Fields("Smith Müller García Rossi Martin Dubois Jansen Nilsson Kowalski Novak Tanaka Kim Patel Silva Schmidt Bauer Moreau Fischer Andersen Cohen Weber Costa Lindqvist Brown")
	nameStems   = strings.Fields("Al Bel Cor Dan El Fen Gal Har Is Jor Kel Lum Mar Nor Or Pra Quin Ros Sol Tor Ul Ver Wil Zen")
	nameTails   = strings.Fields("a ex is on ia or um en ar ix")
	nameSuffix  = strings.Fields("Holdings Group Labs Systems Partners Industries Technologies Capital Solutions Therapeutics")
	countries   = strings.Fields("United_States Germany France United_Kingdom Switzerland Japan Canada Italy Spain Netherlands Sweden Denmark Norway Ireland Belgium Austria Australia Brazil India China South_Korea Singapore Israel Poland Finland")
	countryISO  = strings.Fields("US DE FR GB CH JP CA IT ES NL SE DK NO IE BE AT AU BR IN CN KR SG IL PL FI")
	cities      = strings.Fields("New_York London Paris Berlin Zurich Tokyo Toronto Milan Madrid Amsterdam Stockholm Copenhagen Oslo Dublin Brussels Vienna Sydney São_Paulo Mumbai Shanghai Seoul Singapore Boston Munich Basel")
	currencies  = strings.Fields("USD EUR GBP CHF JPY CAD SEK DKK NOK AUD BRL INR CNY KRW SGD")
	langNames   = strings.Fields("English French German Spanish Italian Portuguese Dutch Swedish Japanese Chinese Korean Polish")
	industries  = strings.Fields("Biotechnology Pharmaceuticals Software Banking Insurance Retail Automotive Energy Telecommunications Logistics Media Manufacturing Healthcare Chemicals Aerospace")
	tagWords    = strings.Fields("innovation research manufacturing services international b2b consumer sustainability digital healthcare finance logistics export retail wholesale family-owned listed startup nonprofit regulated patents franchise subscription marketplace")
	streets     = strings.Fields("Main Market Park Lake Station Church Mill River Bridge Oak King Queen")
	mailboxes   = strings.Fields("info contact press hello office investors")
	urlPaths    = []string{"", "/about", "/en", "/company"}
	adjectives  = strings.Fields("established independent international regional leading family-owned mid-sized fast-growing")
	reputations = strings.Fields("solid strong growing long-standing")
)

// corporateWords are dropped from an entity's name when it becomes a domain name.
var corporateWords = map[string]bool{"inc": true, "ltd": true, "llc": true, "plc": true, "corp": true,
	"corporation": true, "co": true, "ag": true, "sa": true, "gmbh": true, "nv": true, "bv": true,
	"se": true, "spa": true, "ab": true, "as": true, "the": true, "company": true, "group": true}

// domainBase turns an entity name into the first part of a plausible domain name ("Moderna
// Inc" → "moderna"); "example" when nothing usable is left.
func domainBase(name string) string {
	var b strings.Builder
	for _, w := range words(name) {
		if corporateWords[w] {
			continue
		}
		for _, r := range w {
			if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
				b.WriteRune(r)
			}
		}
		if b.Len() >= 16 {
			break
		}
	}
	if b.Len() == 0 {
		return "example"
	}
	return b.String()
}

// article returns "a" or "an" for the word that follows it.
func article(word string) string {
	w := strings.ToLower(word)
	for _, p := range []string{"uni", "use", "usu", "eu", "one", "once"} {
		if strings.HasPrefix(w, p) {
			return "a"
		}
	}
	for _, p := range []string{"hour", "honest", "honor", "heir"} {
		if strings.HasPrefix(w, p) {
			return "an"
		}
	}
	if w != "" && strings.ContainsRune("aeiou", rune(w[0])) {
		return "an"
	}
	return "a"
}

// withArticle is word preceded by its article ("an entity", "a company").
func withArticle(word string) string { return article(word) + " " + word }

// draw is the random source of one leaf: independent values from its hash by index.
type draw uint64

func (d draw) u(i uint64) float64 { return unit(mix(uint64(d), 100+i)) }

func (d draw) pick(i uint64, list []string) string {
	return strings.ReplaceAll(list[mix(uint64(d), 200+i)%uint64(len(list))], "_", " ")
}

func (d draw) intn(i uint64, lo, hi int) int { return lo + int(mix(uint64(d), 300+i)%uint64(hi-lo+1)) }

// logUniform draws from [lo, hi] so that every order of magnitude is as likely.
func (d draw) logUniform(i uint64, lo, hi float64) float64 {
	return lo * math.Exp(d.u(i)*math.Log(hi/lo))
}

// significant rounds x to n significant digits (1234567 → 1230000 for 3).
func significant(x float64, n int) float64 {
	if x == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', n, 64), 64) // decimal digits, no binary residue
	return v
}

// numberRange is the range and precision a numeric kind draws from.
type numberRange struct {
	lo, hi   float64
	log      bool // log-uniform
	decimals int  // digits after the point for type number (-1: significant digits only)
}

var numberRanges = map[fieldKind]numberRange{
	kindYear:       {lo: 1950, hi: 2025},
	kindOldYear:    {lo: 1850, hi: 2025},
	kindLatitude:   {lo: -60, hi: 70, decimals: 4},
	kindLongitude:  {lo: -180, hi: 180, decimals: 4},
	kindPercent:    {lo: 0, hi: 100, decimals: 1},
	kindRatio:      {lo: 0, hi: 1, decimals: 2},
	kindGrowth:     {lo: -20, hi: 40, decimals: 1},
	kindEmployees:  {lo: 5, hi: 300000, log: true},
	kindMoney:      {lo: 1e6, hi: 5e11, log: true, decimals: -1},
	kindPrice:      {lo: 1, hi: 5000, log: true, decimals: 2},
	kindPopulation: {lo: 1000, hi: 4e7, log: true},
	kindAge:        {lo: 18, hi: 95},
	kindRating:     {lo: 1, hi: 5, decimals: 1},
	kindScore:      {lo: 0, hi: 100, decimals: 1},
	kindMinutes:    {lo: 60, hi: 200},
	kindCount:      {lo: 1, hi: 5000, log: true},
	kindGeneric:    {lo: 1, hi: 1000, log: true, decimals: 2},
}

// scaledMoney adjusts a money range to a unit named in the field ("revenue_millions": 1..500000).
func scaledMoney(r numberRange, name string) numberRange {
	for _, w := range words(name) {
		switch w {
		case "thousand", "thousands", "k":
			return numberRange{lo: r.lo / 1e3, hi: r.hi / 1e3, log: true, decimals: 1}
		case "million", "millions", "mn", "m", "musd", "meur":
			return numberRange{lo: r.lo / 1e6, hi: r.hi / 1e6, log: true, decimals: 1}
		case "billion", "billions", "bn", "b", "busd", "beur":
			return numberRange{lo: r.lo / 1e9, hi: r.hi / 1e9, log: true, decimals: 2}
		}
	}
	return r
}

// number draws the value of a numeric leaf of kind k within the schema's bounds.
func (n *node) number(k fieldKind, name string, d draw, integer bool) float64 {
	r, ok := numberRanges[k]
	if !ok {
		r = numberRanges[kindGeneric]
	}
	if k == kindMoney {
		r = scaledMoney(r, name)
	}
	lo, hi := r.lo, r.hi
	slo, shi := n.bounds(integer)
	width := hi - lo
	switch {
	case slo != nil && shi != nil:
		if *slo > hi || *shi < lo { // the kind's range misses the schema's: use the schema's
			lo, hi, r.log = *slo, *shi, false
		} else {
			lo, hi = math.Max(lo, *slo), math.Min(hi, *shi)
		}
	case slo != nil:
		if *slo > lo {
			lo = *slo
		}
		if hi < lo {
			hi = lo + width
		}
	case shi != nil:
		if *shi < hi {
			hi = *shi
		}
		if lo > hi {
			lo = hi - width
		}
	}
	var v float64
	if r.log && lo > 0 {
		v = d.logUniform(0, lo, hi)
	} else {
		v = lo + d.u(0)*(hi-lo)
	}
	switch {
	case integer && r.log:
		v = math.Round(significant(v, 2+int(d.u(1)*2)))
	case integer:
		v = math.Round(v)
	case r.decimals < 0:
		v = significant(v, 3)
	default:
		p := math.Pow(10, float64(r.decimals))
		v = math.Round(v*p) / p
	}
	// Rounding can step over a bound: clamp (with integers, onto the inner whole number).
	if slo != nil && v < *slo {
		v = *slo
		if integer {
			v = math.Ceil(v)
		}
	}
	if shi != nil && v > *shi {
		v = *shi
		if integer {
			v = math.Floor(v)
		}
	}
	return v
}

// bounds returns the inclusive bounds of n (exclusive ones moved inside by one for integers,
// by a hundredth otherwise), nil when absent.
func (n *node) bounds(integer bool) (lo, hi *float64) {
	step := 0.01
	if integer {
		step = 1
	}
	if n.minimum != nil {
		v := *n.minimum
		lo = &v
	}
	if n.exclusiveMinimum != nil {
		v := *n.exclusiveMinimum + step
		if integer {
			v = math.Floor(*n.exclusiveMinimum) + 1
		}
		if lo == nil || v > *lo {
			lo = &v
		}
	}
	if n.maximum != nil {
		v := *n.maximum
		hi = &v
	}
	if n.exclusiveMaximum != nil {
		v := *n.exclusiveMaximum - step
		if integer {
			v = math.Ceil(*n.exclusiveMaximum) - 1
		}
		if hi == nil || v < *hi {
			hi = &v
		}
	}
	if integer {
		if lo != nil {
			v := math.Ceil(*lo)
			lo = &v
		}
		if hi != nil {
			v := math.Floor(*hi)
			hi = &v
		}
	}
	return lo, hi
}

// appendNumber appends v as a JSON number: whole numbers without a fraction.
func appendNumber(buf []byte, v float64, integer bool) []byte {
	if integer || v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.AppendInt(buf, int64(v), 10)
	}
	return strconv.AppendFloat(buf, v, 'f', -1, 64)
}

// text draws the string of a leaf of kind k; ok is false for kinds without a text form (the
// caller then writes the generic "<Label> <hex>").
func (g *generator) text(n *node, k fieldKind, name string, d draw) (string, bool) {
	switch k {
	case kindYear, kindOldYear:
		return strconv.Itoa(int(n.number(k, name, d, true))), true
	case kindDate:
		return fmt.Sprintf("%04d-%02d-%02d", d.intn(1, 1950, 2025), d.intn(2, 1, 12), d.intn(3, 1, 28)), true
	case kindDateTime:
		return fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:00Z", d.intn(1, 2000, 2025), d.intn(2, 1, 12), d.intn(3, 1, 28),
			d.intn(4, 0, 23), d.intn(5, 0, 59)), true
	case kindEmail:
		return d.pick(1, mailboxes) + "@" + g.domain + ".com", true
	case kindURL:
		return "https://www." + g.domain + ".com" + d.pick(1, urlPaths), true
	case kindDomain:
		return g.domain + ".com", true
	case kindPhone:
		return fmt.Sprintf("+%d %d %03d %04d", []int{1, 44, 49, 33, 41, 81, 31, 46}[d.intn(1, 0, 7)],
			d.intn(2, 20, 899), d.intn(3, 100, 999), d.intn(4, 0, 9999)), true
	case kindCountry:
		return d.pick(1, countries), true
	case kindCountryCode:
		return d.pick(1, countryISO), true
	case kindCurrency:
		return d.pick(1, currencies), true
	case kindCity:
		return d.pick(1, cities), true
	case kindAddress:
		return fmt.Sprintf("%d %s Street, %s", d.intn(1, 1, 250), d.pick(2, streets), d.pick(3, cities)), true
	case kindPostal:
		return strconv.Itoa(d.intn(1, 10000, 99999)), true
	case kindLanguage:
		return d.pick(1, langNames), true
	case kindTicker:
		t := strings.ToUpper(g.domain)
		return t[:min(3, len(t))] + string(rune('A'+d.intn(1, 0, 25))), true
	case kindIndustry:
		return d.pick(1, industries), true
	case kindPerson:
		return d.pick(1, firstNames) + " " + d.pick(2, lastNames), true
	case kindOrgName:
		return d.pick(1, nameStems) + d.pick(2, nameTails) + " " + d.pick(3, nameSuffix), true
	case kindText:
		return g.sentence(d), true
	case kindTag:
		return d.pick(1, tagWords), true
	case kindCode:
		prefix := strings.ToUpper(strings.Join(words(name), ""))
		if len(prefix) > 3 || prefix == "" {
			prefix = "ID"
		}
		return fmt.Sprintf("%s-%06d", prefix, d.intn(1, 0, 999999)), true
	case kindUUID:
		a, b := mix(uint64(d), 401), mix(uint64(d), 402)
		return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, a>>16&0xffff, a&0xfff, 0x8000|b>>48&0x3fff, b&0xffffffffffff), true
	case kindIPv4:
		return fmt.Sprintf("203.0.113.%d", d.intn(1, 1, 254)), true
	case kindGeneric:
		return "", false
	}
	// A numeric kind asked as text: the number, as a model would write it.
	return string(appendNumber(nil, n.number(k, name, d, false), false)), true
}

// sentence is a short description of the entity.
func (g *generator) sentence(d draw) string {
	adj, kind := d.pick(1, adjectives), strings.ToLower(g.root)
	switch d.intn(2, 0, 2) {
	case 0:
		return fmt.Sprintf("%s is %s %s %s.", g.entity, article(adj), adj, kind)
	case 1:
		return fmt.Sprintf("%s is %s with a %s reputation.", g.entity, withArticle(kind), d.pick(3, reputations))
	}
	return fmt.Sprintf("%s is %s %s %s active in %s.", g.entity, article(adj), adj, kind, strings.ToLower(d.pick(4, industries)))
}

// truncateRunes cuts s to at most n runes (n < 0: no limit).
func truncateRunes(s string, n int) string {
	if n < 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
