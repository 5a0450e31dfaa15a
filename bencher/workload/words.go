package workload

// vocab is the vocabulary of synthetic prompts: vocabSize English words of
// three lowercase letters, each written with its leading space, so that word
// w is vocab[w*wordBytes : (w+1)*wordBytes] and a prompt of n words is
// n*wordBytes-1 bytes long (its first word goes without the space).
//
// Every word, with its leading space, is a single token in each of the
// tokenizers the list was checked against (see the package documentation);
// the first firstWords words are single tokens without the space too, and
// only they open a prompt. A byte-level BPE tokenizer splits text into words
// before merging, and a space followed by lowercase letters is one such word,
// so no token ever spans two words and n words encode to exactly n tokens.
// The words were taken from a dictionary in order of their cl100k token id
// (lower ids are more frequent merges), leaving out abbreviations and words
// that read badly next to random others.
const vocab = "" +
	" the and for you new are not was get can all out has but set his" +
	" per one end who man any add use off had our her let act its may" +
	" how bet she key two try now him see did run way car own day top" +
	" art say cap beg put too met pay old law big map pop few ear sit" +
	" fun leg red ask job sum got lot bit won row men far win why ant" +
	" pat pot low web yet bar buy air dam tax box bad cut hot dig war" +
	" ago fig due net hit age pie son via six tag bed fit fix mid dim" +
	" van mat dog oil tab rot pen ten bus ill led cop inn nor mix pet" +
	" arm gas sun raw pan sin hop pod sat eye boy eat cat pun fan fat" +
	" ton hat bag pin dry aim rid sea bin yes ice bug god nut lab lie" +
	" rub zip odd kid cup ran wed bot lay pad fee rat era fly tip tar" +
	" aid sad dot mad sky gap lit rig ham rum bid tan tap tea bow arc" +
	" cry bat fib joy nod jet hay ram gel tie hip fur ray egg hub gem" +
	" lip cow flu pit jam apt rib cod rag rod lag ale cab fed jug bay" +
	" rip lap ash kin tin nap lid ace rug ski jar rim hid zap fir sap" +
	" saw wet pup tub gut cub gig dip mud sir nun jog toe fog sue bog"

const (
	// wordBytes is the length of every word in vocab, its space included.
	wordBytes = 4
	// vocabSize is the number of words in vocab: a byte picks one.
	vocabSize = 256
	// firstWords is the number of leading words of vocab that may open a
	// prompt: they are single tokens without their space as well.
	firstWords = 240
)
